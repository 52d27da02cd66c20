/**
 * `map(pick)`, `filter(defined)` and `distinctUntilChanged()` fused into one operator. State
 * slices (a node's info or stats) are read on every state emission of every session: one
 * subscriber hop instead of three or five, which is most of what one change costs a session
 * once it reaches many sessions (the fan-out of a node's stats, issue #17).
 */
import { Observable, type OperatorFunction } from 'rxjs';

/** Emit `pick(value)` whenever it is defined and not the same (===) as the last one emitted. */
export function pickDistinct<T, R>(pick: (value: T) => R | undefined): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let emitted = false;
      let last: R | undefined;
      return source.subscribe({
        next(value) {
          const picked = pick(value);
          if (picked === undefined || (emitted && picked === last)) return;
          emitted = true;
          last = picked;
          subscriber.next(picked);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
