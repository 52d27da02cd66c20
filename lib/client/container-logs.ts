/**
 * A container's output history as the location keeps it (#16): read it once (`logs`), or replay
 * it and follow what comes next (`logs$`), so a late subscriber misses nothing.
 */
import { Observable } from 'rxjs';
import { nanoid } from 'nanoid';
import { BadRequest, type LogLine, type OutputStream } from '../protocol';
import type { SessionContext } from './session-context';

/** One line of a container's output (its line end removed). */
export interface LogEntry {
  /** When its first byte reached the location. */
  time: Date;
  stream: OutputStream;
  text: string;
}

/** Which of a container's kept lines `logs$()` replays before following. */
export interface LogOptions {
  /** Only the last `tail` lines. */
  tail?: number;
  /** Only lines from this time on (a Date, or ms since the epoch). */
  since?: Date | number;
}

/** Which kept lines `logs()` returns, and how. */
export interface LogReadOptions extends LogOptions {
  /** Put the time (ISO 8601) before each line's text, as `docker logs -t` does. */
  timestamps?: boolean;
}

/** The wire form of the options, checked here so bad values fail before anything is sent. */
export function logParams(opts: LogOptions): { tail?: number; since?: number } {
  const { tail, since } = opts;
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new BadRequest(`tail must be a whole number of lines, 0 or more (got ${tail})`);
  const sinceMs = since instanceof Date ? since.getTime() : since;
  if (sinceMs !== undefined && (!Number.isInteger(sinceMs) || sinceMs < 0)) throw new BadRequest('since must be a Date or ms since the epoch');
  return { tail, since: sinceMs };
}

const entry = (l: LogLine, timestamps = false): LogEntry => ({
  time: new Date(l.time),
  stream: l.stream,
  text: timestamps ? `${new Date(l.time).toISOString()} ${l.text}` : l.text,
});

/** The kept output of container `id`, oldest line first. */
export async function readLogs(ctx: SessionContext, id: string, opts: LogReadOptions = {}): Promise<LogEntry[]> {
  const { lines } = await ctx.connection.request('container_logs', { container: id, ...logParams(opts) });
  return lines.map((l) => entry(l, opts.timestamps));
}

/**
 * Cold: each subscription replays the kept output (as `tail` and `since` select) and then follows
 * it; completes when the main process ends (after its last line) or the container is destroyed.
 * `before` runs first (the container must exist at the location).
 */
export function followLogs(ctx: SessionContext, id: string, opts: LogOptions, before: () => Promise<unknown>): Observable<LogEntry> {
  const params = logParams(opts);
  return new Observable<LogEntry>((subscriber) => {
    const follow = nanoid();
    let done = false;
    // Listening before asking: the replay is emitted before the reply, so none of it is missed.
    const events = ctx.events.of('follow', follow).subscribe({
        next: (e) => {
          for (const l of e.params.lines) subscriber.next(entry(l));
          if (e.params.end) {
            done = true;
            subscriber.complete();
          }
        },
        complete: () => subscriber.complete(),
      });
    before()
      .then(() => (subscriber.closed ? undefined : ctx.connection.request('follow_logs', { container: id, follow, ...params })))
      .catch((err: Error) => subscriber.error(err));
    return () => {
      events.unsubscribe();
      if (!done) void ctx.connection.request('unfollow_logs', { follow }).catch(() => undefined);
    };
  });
}
