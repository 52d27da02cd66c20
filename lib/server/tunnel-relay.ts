/**
 * The location's half of a session's tunnels: for each connection the SDK accepted locally, a TCP
 * connection to the container's private address, relayed either over the session's WebSocket
 * through a credit-windowed TunnelPipe (tunnel_open), or over a data connection of its own through
 * a DataPipe (tunnel_link; data-connections.ts accepts the data connection).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { BadRequest, QuotaExceeded, TunnelNotFound, errorToWire, TunnelPipe, type Events, type TfnzError } from '../protocol';
import { DataPipe } from '../protocol/data-pipe';
import { connectToContainer } from '../protocol/tunnel-connect';
import type { ManagedContainer } from './managed-container';
import { dialContainer } from './container-dial';

interface Tunnel {
  id: string;
  container: ManagedContainer;
  port: number;
  timeoutMs: number;
  conns: Set<number>;
}

/** How long a secret from tunnel_link may wait for its data connection. */
const SECRET_TTL_MS = 30_000;

/** Reserves one data connection against the location's limits; undefined when none is left. */
export type ReserveDataConnection = () => (() => void) | undefined;

interface Secret {
  value: Buffer;
  expires: number;
}

type Emit = <E extends 'tunnel_data' | 'tunnel_ack' | 'tunnel_end' | 'tunnel_close'>(event: E, params: Events[E], bulk?: Uint8Array) => void;

export class TunnelRelay {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly pipes = new Map<number, TunnelPipe | DataPipe>();
  /** The one secret each data-connection pipe may be reached with next. */
  private readonly secrets = new Map<number, Secret>();
  /** Pipes whose data connection broke, waiting for the SDK to dial again: they end at the timer. */
  private readonly redials = new Map<number, NodeJS.Timeout>();
  /** Data connections are numbered by the SDK in order: an older number is never opened again. */
  private lastLinked = 0;
  private congested = false;

  constructor(
    private readonly emit: Emit,
    /** Undefined: this location takes no data connections (tunnel_link is refused). */
    private readonly reserve?: ReserveDataConnection,
    /** How long a pipe waits for its broken data connection to be dialled again. */
    private readonly redialMs = 120_000,
  ) {}

  /** How many tunnels this session has. */
  get size(): number {
    return this.tunnels.size;
  }

  /** #20: the container ports this session tunnels to `containerId` (tfnz ps). */
  portsOf(containerId: string): number[] {
    return [...new Set([...this.tunnels.values()].filter((t) => t.container.id === containerId).map((t) => t.port))].sort((a, b) => a - b);
  }

  create(id: string, container: ManagedContainer, port: number, timeoutMs: number): void {
    this.tunnels.set(id, { id, container, port, timeoutMs, conns: new Set() });
  }

  destroy(id: string): void {
    const tunnel = this.tunnels.get(id);
    if (!tunnel) throw new TunnelNotFound(`no tunnel '${id}' in this session`);
    for (const conn of tunnel.conns) this.pipes.get(conn)?.close();
    this.tunnels.delete(id);
  }

  /** Destroy every tunnel into `containerId` (the container went away). */
  destroyFor(containerId: string): void {
    for (const t of [...this.tunnels.values()]) if (t.container.id === containerId) this.destroy(t.id);
  }

  closeAll(): void {
    for (const id of [...this.tunnels.keys()]) this.destroy(id);
  }

  open(tunnelId: string, conn: number): void {
    const tunnel = this.tunnels.get(tunnelId);
    if (!tunnel) {
      this.emit('tunnel_close', { conn, error: errorToWire(new TunnelNotFound(`no tunnel '${tunnelId}' in this session`)) });
      return;
    }
    const pipe = new TunnelPipe(
      {
        data: (chunk) => this.emit('tunnel_data', { conn }, chunk),
        ack: (bytes) => this.emit('tunnel_ack', { conn, bytes }),
        end: () => this.emit('tunnel_end', { conn }),
        close: () => this.emit('tunnel_close', { conn }),
      },
      () => {
        this.pipes.delete(conn);
        tunnel.conns.delete(conn);
      },
    );
    pipe.setCongested(this.congested);
    this.pipes.set(conn, pipe);
    tunnel.conns.add(conn);
    void this.connectWithRetry(tunnel, pipe, conn);
  }

  /**
   * tunnel_link: a secret for one data connection of `conn`; the first call opens the connection
   * to the container. QuotaExceeded at the location's socket limit (the SDK then uses tunnel_open).
   */
  link(tunnelId: string, conn: number): Uint8Array {
    if (!this.reserve) throw new BadRequest('this location takes no data connections; use tunnel_open');
    let pipe = this.pipes.get(conn);
    if (pipe && !(pipe instanceof DataPipe)) throw new BadRequest(`connection ${conn} rides the WebSocket (tunnel_open)`);
    if (!pipe) {
      const tunnel = this.tunnels.get(tunnelId);
      if (!tunnel) throw new TunnelNotFound(`no tunnel '${tunnelId}' in this session`);
      if (conn <= this.lastLinked) throw new TunnelNotFound(`connection ${conn} of tunnel '${tunnelId}' is over`);
      const release = this.reserve();
      if (!release) throw new QuotaExceeded('too many sockets from this address for another data connection (the location\'s --connections-per-address raises it)');
      this.lastLinked = conn;
      pipe = this.openDataPipe(tunnel, conn, release);
    }
    const value = randomBytes(32);
    this.secrets.set(conn, { value, expires: Date.now() + SECRET_TTL_MS });
    return value;
  }

  /**
   * `conn`'s pipe if `secret` is its current one (then used up), else undefined: `received` is what
   * the 101 answer says, then `attach` carries on over the data connection.
   */
  takeLink(conn: number, secret: Buffer): { received: number; attach(link: Socket, peerReceived: number): boolean } | undefined {
    const expected = this.secrets.get(conn);
    const pipe = this.pipes.get(conn);
    if (!expected || !(pipe instanceof DataPipe)) return undefined;
    if (secret.length !== expected.value.length || !timingSafeEqual(secret, expected.value)) return undefined;
    this.secrets.delete(conn);
    if (expected.expires < Date.now()) return undefined;
    return {
      received: pipe.receivedBytes,
      attach: (link, peerReceived) => {
        clearTimeout(this.redials.get(conn));
        return pipe.attachLink(link, peerReceived);
      },
    };
  }

  data(conn: number, chunk: Uint8Array): void {
    const pipe = this.pipes.get(conn);
    if (pipe instanceof TunnelPipe) pipe.fromPeer(chunk);
  }
  ack(conn: number, bytes: number): void {
    this.pipes.get(conn)?.ackFromPeer(bytes);
  }
  end(conn: number, total?: number): void {
    const pipe = this.pipes.get(conn);
    if (pipe instanceof DataPipe) pipe.endFromPeer(total);
    else pipe?.endFromPeer();
  }
  close(conn: number): void {
    this.pipes.get(conn)?.close(true);
  }

  /** The WebSocket is backed up: hold the pipes that ride it (data connections do not). */
  setCongested(congested: boolean): void {
    this.congested = congested;
    for (const pipe of this.pipes.values()) if (pipe instanceof TunnelPipe) pipe.setCongested(congested);
  }

  private openDataPipe(tunnel: Tunnel, conn: number, release: () => void): DataPipe {
    const pipe: DataPipe = new DataPipe(
      {
        ack: (bytes) => this.emit('tunnel_ack', { conn, bytes }),
        end: (total) => this.emit('tunnel_end', { conn, bytes: total }),
        close: () => this.emit('tunnel_close', { conn }),
      },
      () => {
        clearTimeout(this.redials.get(conn));
        this.redials.delete(conn);
        release();
        this.pipes.delete(conn);
        this.secrets.delete(conn);
        tunnel.conns.delete(conn);
      },
      // The SDK dials a broken data connection again; one that never comes back ends the pipe.
      () => {
        clearTimeout(this.redials.get(conn));
        this.redials.set(conn, setTimeout(() => pipe.close(), this.redialMs).unref());
      },
    );
    this.pipes.set(conn, pipe);
    tunnel.conns.add(conn);
    void this.connectWithRetry(tunnel, pipe, conn);
    return pipe;
  }

  /** Connect to the container (retrying while it opens its port), or tell the SDK why not. */
  private async connectWithRetry(tunnel: Tunnel, pipe: TunnelPipe | DataPipe, conn: number): Promise<void> {
    try {
      const socket = await connectToContainer(
        () => tunnel.container, tunnel.port, tunnel.timeoutMs, () => pipe.isClosed,
        (ip, port) => dialContainer(tunnel.container.node.engine, ip, port),
      );
      if (socket) pipe instanceof DataPipe ? pipe.attachLocal(socket) : pipe.attach(socket);
    } catch (err) {
      if (pipe.isClosed) return;
      this.emit('tunnel_close', { conn, error: errorToWire(err as TfnzError) });
      pipe.close(true);
    }
  }
}
