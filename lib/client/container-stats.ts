/**
 * ctr.stats$ (#16): the container's resource use, about once a second. Hot and shared: the first
 * subscriber starts the location's engine stats stream, the last one leaving stops it.
 */
import { Observable, share } from 'rxjs';
import { nanoid } from 'nanoid';
import type { ContainerStats } from '../protocol';
import type { SessionContext } from './session-context';

export function containerStats$(ctx: SessionContext, id: string, before: () => Promise<unknown>): Observable<ContainerStats> {
  return new Observable<ContainerStats>((subscriber) => {
    const watch = nanoid();
    let done = false;
    const events = ctx.events.of('watch', watch).subscribe({
        next: (e) => {
          if (e.params.stats) subscriber.next(e.params.stats);
          if (e.params.end) {
            done = true;
            subscriber.complete();
          }
        },
        complete: () => subscriber.complete(),
      });
    before()
      .then(() => (subscriber.closed ? undefined : ctx.connection.request('watch_stats', { container: id, watch })))
      .catch((err: Error) => subscriber.error(err));
    return () => {
      events.unsubscribe();
      if (!done) void ctx.connection.request('unwatch_stats', { watch }).catch(() => undefined);
    };
  }).pipe(share());
}
