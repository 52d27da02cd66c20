/**
 * A tunnel: a local TCP port whose every accepted connection is relayed through the location to a
 * port of a container. Created by `Container.attachTunnel`, destroyed by `Container.destroyTunnel`.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { nanoid } from 'nanoid';
import { BehaviorSubject, Subject, distinctUntilChanged, map, type Observable } from 'rxjs';
import { BadRequest, ConnectionLost, PortInUse, QuotaExceeded, RequestTimeout, TfnzError, TunnelPipe, UnknownCommand } from '../protocol';
import { DataPipe } from '../protocol/data-pipe';
import { connectFailure } from '../protocol/tunnel-connect';
import { DirectRelay } from './direct-relay';
import { KernelForwards } from './kernel-forward';
import { KernelTunnel } from './kernel-tunnel';
import type { SessionContext } from './session-context';
import type { Container } from './container';

/** Options of `Container.attachTunnel`. */
export interface TunnelOptions {
  /** Local port to listen on; default 0 (a free port, see `localPort`). */
  localPort?: number;
  /** Local address to listen on; default 127.0.0.1 (only this machine). */
  bind?: string;
  /** Seconds the location keeps retrying to connect each connection to the container; default 30. */
  timeout?: number;
}

/**
 * How a tunnel's new connections travel now: `kernel`, rewritten by the packet filter straight to
 * the container (root); `direct`, relayed by a thread of this process to the container (otherwise,
 * and a kernel tunnel until a connection first reaches its container, again after the container
 * restarts or moves, and while it is not running); `location`, through the location. The first two
 * need a location in this process (embedded) or on this machine's same network stack with the
 * container's node on it too; `directTunnels: false` (connect option) keeps every tunnel on `location`.
 */
export type TunnelPath = 'kernel' | 'direct' | 'location';

/**
 * A local TCP port that reaches a port of a container through the location, from
 * `Container.attachTunnel`. Closed by `Container.destroyTunnel`, with its container, or at the end
 * of an `await using` block.
 */
export class Tunnel {
  readonly id = nanoid();
  /** Connection failures (e.g. nothing listening in the container); hot. */
  readonly errors$: Observable<TfnzError>;
  private readonly errors = new Subject<TfnzError>();
  /** Which path new connections take, as it changes; replays the current one. */
  readonly path$: Observable<TunnelPath>;
  private readonly paths: BehaviorSubject<TunnelPath>;
  /** Set while the kernel may forward this (direct) tunnel. */
  private kernel?: KernelTunnel;
  /** Why the kernel does not forward this tunnel, for the log. */
  private relayedBecause?: string;
  private readonly sockets = new Set<Socket>();
  /** Connections on data connections: closed with the tunnel (not left to linger). */
  private readonly dataPipes = new Set<DataPipe>();
  private closed = false;
  private listeningOn = 0;
  /** Relayed tunnels listen here; direct ones on the direct relay's thread (direct-relay.ts). */
  private server?: Server;
  /** Connections go straight to the container (relay thread, kernel), decided once when the tunnel opens. */
  private readonly direct: boolean;

  private constructor(
    private readonly ctx: SessionContext,
    readonly container: Container,
    readonly port: number,
    readonly bind: string,
    private readonly timeoutMs: number,
  ) {
    this.errors$ = this.errors.asObservable();
    this.direct = ctx.directTunnelsTo(container.node.id);
    this.paths = new BehaviorSubject<TunnelPath>(this.direct ? 'direct' : 'location');
    this.path$ = this.paths.pipe(distinctUntilChanged());
  }

  /** Which path new connections take now (see `TunnelPath`). */
  get path(): TunnelPath {
    return this.paths.value;
  }

  /** The local port, also when it was chosen by the system. */
  get localPort(): number {
    return this.listeningOn;
  }

  /** @internal Listen locally, then register the tunnel with the location. */
  static async open(ctx: SessionContext, container: Container, port: number, opts: TunnelOptions): Promise<Tunnel> {
    const bind = opts.bind ?? '127.0.0.1';
    const timeout = opts.timeout ?? 30;
    const tunnel = new Tunnel(ctx, container, port, bind, timeout * 1000);
    try {
      await tunnel.listen(opts.localPort ?? 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw code === 'EADDRINUSE' || code === 'EACCES'
        ? new PortInUse(`cannot listen on ${bind}:${opts.localPort}: ${code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : 'already in use'}; choose another localPort or 0 for any`)
        : err;
    }
    try {
      await ctx.connection.request('create_tunnel', { tunnel: tunnel.id, container: container.id, port, timeout });
    } catch (err) {
      await tunnel.stopListening();
      throw err;
    }
    tunnel.server?.on('connection', (socket) => (ctx.dialData ? tunnel.acceptLinked(socket) : tunnel.acceptRelayed(socket)));
    ctx.dispatch({ type: 'tunnel_added', tunnel: { id: tunnel.id, container: container.id, port, localPort: tunnel.localPort } });
    ctx.log.info(`tunnel ${bind}:${tunnel.localPort} -> ${container.id}:${port} ${tunnel.describePath()}`);
    return tunnel;
  }

  /** @internal Stop listening and close every connection; `tellLocation` false when it is gone already. */
  async close(tellLocation = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pipe of this.dataPipes) pipe.close();
    for (const socket of this.sockets) socket.destroy();
    await this.stopListening();
    this.ctx.dispatch({ type: 'tunnel_removed', tunnel: this.id });
    this.errors.complete();
    this.paths.complete();
    if (tellLocation && this.ctx.connection.connected) {
      await this.ctx.connection.request('destroy_tunnel', { tunnel: this.id }).catch(() => undefined);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** `await using tunnel = await container.createTunnel(…)`: destroyed when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.container.destroyTunnel(this);
  }

  /** Listen on the relay thread (direct) or here (relayed, the connections are handled by `acceptRelayed`). */
  private async listen(localPort: number): Promise<void> {
    if (this.direct) {
      const target$ = this.ctx.state$.pipe(
        map(() => ({ id: this.container.id, status: this.container.status, privateIp: this.container.privateIp })),
        distinctUntilChanged((a, b) => a.status === b.status && a.privateIp === b.privateIp),
      );
      const forwards = KernelForwards.shared();
      this.relayedBecause = this.ctx.kernelTunnels ? await forwards.unavailable(this.bind) : 'kernel tunnels are off';
      this.listeningOn = await DirectRelay.shared().listen({
        tunnel: this.id, bind: this.bind, localPort, port: this.port, timeoutMs: this.timeoutMs, target$,
        onConnectFailed: (lastError) => this.report(connectFailure(this.container, this.port, this.timeoutMs, lastError)),
        onConnected: (ip) => this.kernel?.reached(ip),
      });
      if (this.relayedBecause === undefined) this.handToKernel(forwards, target$);
      return;
    }
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(localPort, this.bind, () => resolve());
    });
    this.server = server;
    this.listeningOn = (server.address() as AddressInfo).port;
  }

  /**
   * Let the kernel forward this direct tunnel once a connection reaches its container
   * (kernel-tunnel.ts); the relay thread keeps the port and serves the rest.
   */
  private handToKernel(forwards: KernelForwards, target$: Observable<{ id: string; status: string; privateIp?: string }>): void {
    const where = `tunnel ${this.bind}:${this.listeningOn} -> ${this.container.id}:${this.port}`;
    this.kernel = new KernelTunnel(forwards, { tunnel: this.id, bind: this.bind, localPort: this.listeningOn, port: this.port }, (path, why) => {
      if (why) this.ctx.log.info(`${where}: relayed by this process (${why})`);
      if (!this.closed) this.paths.next(path);
    });
    this.kernel.start(target$);
  }

  private describePath(): string {
    if (this.kernel) return '(forwarded by the kernel once a connection reaches the container)';
    if (this.path === 'direct') return `(relayed by this process: ${this.relayedBecause})`;
    return this.ctx.dialData ? '(through the location, on data connections)' : "(through the location, on the session's WebSocket)";
  }

  /** Close the local port (and, for a direct tunnel, its connections); resolves once it is free. */
  private async stopListening(): Promise<void> {
    await this.kernel?.close(); // the rules first: the port is free only once nothing takes it
    if (this.direct) return DirectRelay.shared().close(this.id);
    const server = this.server;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  private report(err: TfnzError): void {
    this.ctx.log.info(`tunnel ${this.localPort} -> ${this.container.id}:${this.port}: ${err.message}`);
    this.errors.next(err);
  }

  /** Through the location: bytes ride the session's WebSocket under a credit window (TunnelPipe). */
  private acceptRelayed(socket: Socket): void {
    const { connection, tunnels } = this.ctx;
    this.sockets.add(socket);
    let conn = 0;
    const pipe = new TunnelPipe(
      {
        data: (chunk) => connection.send('tunnel_data', { conn }, chunk),
        ack: (bytes) => connection.send('tunnel_ack', { conn, bytes }),
        end: () => connection.send('tunnel_end', { conn }),
        close: () => connection.send('tunnel_close', { conn }),
      },
      () => {
        tunnels.forget(conn);
        this.sockets.delete(socket);
      },
    );
    conn = tunnels.register(pipe, (err) => this.report(err));
    connection.send('tunnel_open', { tunnel: this.id, conn });
    pipe.attach(socket);
  }

  /**
   * Through the location on a data connection of its own (lib/protocol/data-pipe.ts): raw bytes on
   * a TCP connection beside the session's WebSocket, dialled again when it breaks. A location that
   * takes no more (its socket limit) gets this connection over the WebSocket instead.
   */
  private acceptLinked(local: Socket): void {
    const { connection, tunnels } = this.ctx;
    this.sockets.add(local);
    local.on('error', () => undefined);
    let conn = 0;
    const pipe: DataPipe = new DataPipe(
      {
        ack: (bytes) => connection.send('tunnel_ack', { conn, bytes }),
        end: (total) => connection.send('tunnel_end', { conn, bytes: total }),
        close: () => connection.send('tunnel_close', { conn }),
      },
      () => {
        tunnels.forget(conn);
        this.sockets.delete(local);
        this.dataPipes.delete(pipe);
      },
      () => (this.closed ? pipe.close() : void this.link(pipe, conn)),
    );
    this.dataPipes.add(pipe);
    conn = tunnels.register(pipe, (err) => this.report(err));
    void this.link(pipe, conn, local);
  }

  /**
   * Get a secret for `conn` and dial its data connection, again and again while the network is
   * down, for as long as the session may resume. `local` on the first call: attached once the
   * location took the connection, or handed to the WebSocket path when it will not.
   */
  private async link(pipe: DataPipe, conn: number, local?: Socket): Promise<void> {
    const deadline = Date.now() + REDIAL_WINDOW_MS;
    let delay = 50;
    while (!pipe.isClosed && !this.closed) {
      try {
        const { secret } = await this.ctx.connection.request('tunnel_link', { tunnel: this.id, conn });
        if (local) pipe.attachLocal(local);
        local = undefined;
        if (pipe.isClosed) return;
        const { socket, peerReceived } = await this.ctx.dialData!(conn, secret, pipe.receivedBytes);
        if (!pipe.attachLink(socket, peerReceived)) throw new ConnectionLost(`the location's count of bytes on connection ${conn} is impossible (${peerReceived})`);
        return;
      } catch (err) {
        if (local) {
          this.dataPipes.delete(pipe);
          this.ctx.tunnels.forget(conn);
          // An older location, or one at its socket limit: this connection rides the WebSocket.
          if (err instanceof QuotaExceeded || err instanceof BadRequest || err instanceof UnknownCommand) return this.acceptRelayed(local);
          this.sockets.delete(local);
          local.destroy();
          if (!this.closed && err instanceof TfnzError) this.report(err);
          return;
        }
        const located = err instanceof TfnzError && !(err instanceof RequestTimeout);
        if (located || Date.now() > deadline || !this.ctx.connection.connected) {
          // A connection that is over anyway (it was closing) goes quietly.
          if (!pipe.isClosed && !pipe.isClosing && !this.closed) this.report(located ? (err as TfnzError) : new ConnectionLost(`tunnel connection ${conn} lost its data connection and could not dial it again: ${(err as Error).message}`));
          return pipe.close();
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
}

/** How long a broken data connection is dialled again: as long as the session itself may resume. */
const REDIAL_WINDOW_MS = 150_000;
