/**
 * The location's half of a session's tunnels: for each connection the SDK accepted locally, a TCP
 * connection to the container's private address, relayed through a credit-windowed TunnelPipe.
 */
import { TunnelNotFound, errorToWire, TunnelPipe, type Events, type TfnzError } from '../protocol';
import { connectToContainer } from '../protocol/tunnel-connect';
import type { ManagedContainer } from './managed-container';

interface Tunnel {
  id: string;
  container: ManagedContainer;
  port: number;
  timeoutMs: number;
  conns: Set<number>;
}

type Emit = <E extends 'tunnel_data' | 'tunnel_ack' | 'tunnel_end' | 'tunnel_close'>(event: E, params: Events[E], bulk?: Uint8Array) => void;

export class TunnelRelay {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly pipes = new Map<number, TunnelPipe>();
  private congested = false;

  constructor(private readonly emit: Emit) {}

  /** How many tunnels this session has. */
  get size(): number {
    return this.tunnels.size;
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

  data(conn: number, chunk: Uint8Array): void {
    this.pipes.get(conn)?.fromPeer(chunk);
  }
  ack(conn: number, bytes: number): void {
    this.pipes.get(conn)?.ackFromPeer(bytes);
  }
  end(conn: number): void {
    this.pipes.get(conn)?.endFromPeer();
  }
  close(conn: number): void {
    this.pipes.get(conn)?.close(true);
  }

  setCongested(congested: boolean): void {
    this.congested = congested;
    for (const pipe of this.pipes.values()) pipe.setCongested(congested);
  }

  /** Connect to the container (retrying while it opens its port), or tell the SDK why not. */
  private async connectWithRetry(tunnel: Tunnel, pipe: TunnelPipe, conn: number): Promise<void> {
    try {
      const socket = await connectToContainer(() => tunnel.container, tunnel.port, tunnel.timeoutMs, () => pipe.isClosed);
      if (socket) pipe.attach(socket);
    } catch (err) {
      if (pipe.isClosed) return;
      this.emit('tunnel_close', { conn, error: errorToWire(err as TfnzError) });
      pipe.close(true);
    }
  }
}
