/**
 * `tfnz logs KEY`: print the kept output of a container of yours that another session runs (e.g.
 * `tfnz run --tag web ...`, or one left by `tfnz run -d`), as `docker logs` does: --tail, --since,
 * -f to follow, -t for times.
 */
import { Location } from '../client/location';
import type { LogEntry } from '../client/container-logs';

export interface LogsCommandOptions {
  location?: string;
  tail?: string;
  since?: string;
  follow?: boolean;
  timestamps?: boolean;
}

export async function logsCommand(key: string, opts: LogsCommandOptions): Promise<void> {
  const tail = opts.tail === undefined || opts.tail === 'all' ? undefined : Number(opts.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new Error(`--tail wants a number of lines or 'all' (got '${opts.tail}')`);
  const since = opts.since === undefined ? undefined : parseSince(opts.since);
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    const ctr = await loc.userContainer(key); // #20: any of yours, tagged or not, detached or not
    const print = (l: LogEntry) => (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${opts.timestamps ? `${l.time.toISOString()} ` : ''}${l.text}\n`);
    if (opts.follow) {
      await new Promise<void>((resolve, reject) => {
        const sub = ctr.logs$({ tail, since }).subscribe({ next: print, error: reject, complete: resolve });
        process.once('SIGINT', () => {
          sub.unsubscribe();
          resolve();
        });
      });
    } else {
      for (const l of await ctr.logs({ tail, since })) print(l);
    }
  } finally {
    await loc.disconnect();
  }
}

/** A time like docker's --since: a duration ago (30s, 10m, 2h) or a date (2026-01-02T03:04:05Z). */
export function parseSince(spec: string): Date {
  const ago = /^(\d+)(ms|s|m|h)$/.exec(spec);
  if (ago) return new Date(Date.now() - Number(ago[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[ago[2] as 'ms' | 's' | 'm' | 'h']);
  const date = new Date(spec);
  if (!/^\d{4}-\d{2}-\d{2}/.test(spec) || Number.isNaN(date.getTime())) throw new Error(`--since wants a duration (30s, 10m, 2h) or a date (2026-01-02T03:04:05Z), got '${spec}'`);
  return date;
}
