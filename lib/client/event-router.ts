/**
 * The one place that hands the location's per-object events to the handle that owns them: each
 * event is looked up once by its owner's id, instead of every handle filtering the whole stream.
 * Bytes, not state: state changes go through the reducer, which sees every event first.
 */
import { Observable, Subject } from 'rxjs';
import type { EventOf } from '../protocol';

/** The events each kind of owner gets, keyed by the owner's id. */
export interface RoutedEvents {
  container: EventOf<'container_output'>;
  process: EventOf<'process_output' | 'process_exit'>;
  transfer: EventOf<'file_data' | 'file_ack' | 'file_end'>;
  /** A tunnelled TCP connection, by its number. */
  conn: EventOf<'tunnel_data' | 'tunnel_ack' | 'tunnel_end' | 'tunnel_close'>;
  /** A `follow_logs` subscription, by its follow id. */
  follow: EventOf<'container_log'>;
  /** A `watch_stats` subscription, by its watch id. */
  watch: EventOf<'container_stats'>;
  /** #19: a registry pull, by its pull id (a spawn's own pull: the container's id). */
  pull: EventOf<'image_pull'>;
}
export type OwnerKind = keyof RoutedEvents;

function ownerOf(e: EventOf): string | undefined {
  switch (e.event) {
    case 'container_output':
      return `container:${e.params.container}`;
    case 'process_output':
    case 'process_exit':
      return `process:${e.params.process}`;
    case 'file_data':
    case 'file_ack':
    case 'file_end':
      return `transfer:${e.params.transfer}`;
    case 'tunnel_data':
    case 'tunnel_ack':
    case 'tunnel_end':
    case 'tunnel_close':
      return `conn:${e.params.conn}`;
    case 'container_log':
      return `follow:${e.params.follow}`;
    case 'container_stats':
      return `watch:${e.params.watch}`;
    case 'image_pull':
      return `pull:${e.params.pull}`;
    default:
      return undefined;
  }
}

interface Route {
  readonly subject: Subject<EventOf>;
  subscribers: number;
}

export class EventRouter {
  private readonly routes = new Map<string, Route>();
  private closed = false;

  constructor(events$: Observable<EventOf>) {
    events$.subscribe({
      next: (e) => {
        const key = ownerOf(e);
        if (key !== undefined) this.routes.get(key)?.subject.next(e);
      },
      complete: () => this.close(),
      error: () => this.close(),
    });
  }

  /**
   * Hot: the events of one owner from the moment of subscribing (subscribe before asking the
   * location for anything, so nothing is missed); completes when the connection closes.
   */
  of<K extends OwnerKind>(kind: K, id: string | number): Observable<RoutedEvents[K]> {
    const key = `${kind}:${id}`;
    return new Observable<RoutedEvents[K]>((subscriber) => {
      if (this.closed) return subscriber.complete();
      let route = this.routes.get(key);
      if (!route) this.routes.set(key, (route = { subject: new Subject(), subscribers: 0 }));
      route.subscribers++;
      const subscription = (route.subject as unknown as Subject<RoutedEvents[K]>).subscribe(subscriber);
      const owned = route;
      return () => {
        subscription.unsubscribe();
        if (--owned.subscribers === 0 && this.routes.get(key) === owned) this.routes.delete(key);
      };
    });
  }

  /** How many owners are listening (a leak shows here). */
  get size(): number {
    return this.routes.size;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    const routes = [...this.routes.values()];
    this.routes.clear();
    for (const route of routes) route.subject.complete();
  }
}
