/**
 * A tunnel: a local TCP port whose every accepted connection is relayed through the location to a
 * port of a container. Created by `Container.attachTunnel`, destroyed by `Container.destroyTunnel`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { nanoid } from 'nanoid';
import { Subject, type Observable } from 'rxjs';
import { PortInUse, TunnelPipe, type TfnzError } from '../protocol';
import { connectToContainer } from '../protocol/tunnel-connect';
import { spliceSockets } from './tunnel-direct';
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
 * A local TCP port that reaches a port of a container through the location, from
 * `Container.attachTunnel`. Closed by `Container.destroyTunnel`, with its container, or at the end
 * of an `await using` block.
 */
export class Tunnel {
  readonly id = nanoid();
  /** Connection failures (e.g. nothing listening in the container); hot. */
  readonly errors$: Observable<TfnzError>;
  private readonly errors = new Subject<TfnzError>();
  private readonly sockets = new Set<Socket>();
  private closed = false;

  private constructor(
    private readonly ctx: SessionContext,
    readonly container: Container,
    readonly port: number,
    readonly bind: string,
    private readonly server: Server,
    private readonly timeoutMs: number,
  ) {
    this.errors$ = this.errors.asObservable();
  }

  /** The local port, also when it was chosen by the system. */
  get localPort(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** @internal Listen locally, then register the tunnel with the location. */
  static async open(ctx: SessionContext, container: Container, port: number, opts: TunnelOptions): Promise<Tunnel> {
    const bind = opts.bind ?? '127.0.0.1';
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' || err.code === 'EACCES'
          ? new PortInUse(`cannot listen on ${bind}:${opts.localPort}: ${err.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : 'already in use'}; choose another localPort or 0 for any`)
          : err),
      );
      server.listen(opts.localPort ?? 0, bind, () => resolve());
    });
    const timeout = opts.timeout ?? 30;
    const tunnel = new Tunnel(ctx, container, port, bind, server, timeout * 1000);
    try {
      await ctx.connection.request('create_tunnel', { tunnel: tunnel.id, container: container.id, port, timeout });
    } catch (err) {
      server.close();
      throw err;
    }
    server.on('connection', (socket) => tunnel.accept(socket));
    ctx.dispatch({ type: 'tunnel_added', tunnel: { id: tunnel.id, container: container.id, port, localPort: tunnel.localPort } });
    ctx.log.info(`tunnel ${bind}:${tunnel.localPort} -> ${container.id}:${port}`);
    return tunnel;
  }

  /** @internal Stop listening and close every connection; `tellLocation` false when it is gone already. */
  async close(tellLocation = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
    this.ctx.dispatch({ type: 'tunnel_removed', tunnel: this.id });
    this.errors.complete();
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

  private accept(socket: Socket): void {
    if (this.ctx.directTunnels) this.acceptDirect(socket);
    else this.acceptRelayed(socket);
  }

  private report(err: TfnzError): void {
    this.ctx.log.info(`tunnel ${this.localPort} -> ${this.container.id}:${this.port}: ${err.message}`);
    this.errors.next(err);
  }

  /** The embedded location's containers are reachable from here: one hop, see tunnel-direct.ts. */
  private acceptDirect(local: Socket): void {
    this.sockets.add(local);
    local.pause(); // until the container's end is connected; the kernel holds what arrives meanwhile
    local.on('error', () => undefined);
    const abandoned = () => this.closed || local.destroyed;
    connectToContainer(() => this.container, this.port, this.timeoutMs, abandoned).then(
      (remote) => {
        if (!remote) return void (local.destroy(), this.sockets.delete(local));
        this.sockets.add(remote);
        spliceSockets(local, remote, () => (this.sockets.delete(local), this.sockets.delete(remote)));
      },
      (err: TfnzError) => {
        local.destroy();
        this.sockets.delete(local);
        this.report(err);
      },
    );
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
}
