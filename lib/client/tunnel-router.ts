/**
 * Hands out connection numbers for tunnelled TCP connections and feeds each one's events (from
 * the session's EventRouter) to its pipe. Bytes, not state: this never goes through the reducer.
 */
import type { Subscription } from 'rxjs';
import { errorFromWire, TunnelPipe, type TfnzError } from '../protocol';
import type { DataPipe } from '../protocol/data-pipe';
import type { EventRouter, RoutedEvents } from './event-router';

export class TunnelRouter {
  private readonly pipes = new Map<number, { pipe: TunnelPipe | DataPipe; subscription: Subscription }>();
  private nextConn = 1;

  constructor(private readonly events: EventRouter) {}

  register(pipe: TunnelPipe | DataPipe, onError: (err: TfnzError) => void): number {
    const conn = this.nextConn++;
    const subscription = this.events.of('conn', conn).subscribe((e) => route(e, pipe, onError));
    this.pipes.set(conn, { pipe, subscription });
    return conn;
  }

  forget(conn: number): void {
    this.pipes.get(conn)?.subscription.unsubscribe();
    this.pipes.delete(conn);
  }

  stop(): void {
    for (const { pipe, subscription } of [...this.pipes.values()]) {
      subscription.unsubscribe();
      pipe.close(true);
    }
    this.pipes.clear();
  }
}

function route(e: RoutedEvents['conn'], pipe: TunnelPipe | DataPipe, onError: (err: TfnzError) => void): void {
  switch (e.event) {
    case 'tunnel_data':
      if (e.bulk && pipe instanceof TunnelPipe) pipe.fromPeer(e.bulk);
      break;
    case 'tunnel_ack':
      pipe.ackFromPeer(e.params.bytes);
      break;
    case 'tunnel_end':
      if (pipe instanceof TunnelPipe) pipe.endFromPeer();
      else pipe.endFromPeer(e.params.bytes);
      break;
    case 'tunnel_close':
      if (e.params.error) onError(errorFromWire(e.params.error));
      pipe.close(true);
      break;
  }
}
