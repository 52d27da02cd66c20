/**
 * Routes the location's tunnel events to the local connection they belong to, and hands out
 * connection numbers. Bytes, not state: this never goes through the reducer.
 */
import { filter, type Subscription } from 'rxjs';
import { errorFromWire, type EventOf, type TfnzError, type TunnelPipe } from '../protocol';
import type { Connection } from './connection';

type TunnelEvent = EventOf<'tunnel_data' | 'tunnel_ack' | 'tunnel_end' | 'tunnel_close'>;
const TUNNEL_EVENTS = new Set(['tunnel_data', 'tunnel_ack', 'tunnel_end', 'tunnel_close']);

export class TunnelRouter {
  private readonly pipes = new Map<number, { pipe: TunnelPipe; onError(err: TfnzError): void }>();
  private nextConn = 1;
  private readonly subscription: Subscription;

  constructor(connection: Connection) {
    this.subscription = connection.events$
      .pipe(filter((e): e is TunnelEvent => TUNNEL_EVENTS.has(e.event)))
      .subscribe((e) => this.route(e));
  }

  register(pipe: TunnelPipe, onError: (err: TfnzError) => void): number {
    const conn = this.nextConn++;
    this.pipes.set(conn, { pipe, onError });
    return conn;
  }

  forget(conn: number): void {
    this.pipes.delete(conn);
  }

  stop(): void {
    this.subscription.unsubscribe();
    for (const { pipe } of this.pipes.values()) pipe.close(true);
    this.pipes.clear();
  }

  private route(e: TunnelEvent): void {
    const entry = this.pipes.get(e.params.conn);
    if (!entry) return;
    switch (e.event) {
      case 'tunnel_data':
        if (e.bulk) entry.pipe.fromPeer(e.bulk);
        break;
      case 'tunnel_ack':
        entry.pipe.ackFromPeer(e.params.bytes);
        break;
      case 'tunnel_end':
        entry.pipe.endFromPeer();
        break;
      case 'tunnel_close':
        if (e.params.error) entry.onError(errorFromWire(e.params.error));
        entry.pipe.close(true);
        break;
    }
  }
}
