/**
 * The output a container's main process wrote, kept by the location as timestamped lines for as
 * long as the container exists, so late readers (ctr.logs, a wait for a log message, a failing
 * start's error) see what was written before they asked. Bounded per container: the oldest lines
 * go first once either bound is passed.
 */
import type { LogLine, OutputStream } from '../protocol';

/** How much of each container's output the location keeps (the oldest lines go first). */
export interface LogHistoryLimits {
  /** Most bytes of line text kept per container. */
  maxBytes: number;
  /** Most lines kept per container. */
  maxLines: number;
}

/** 1 MiB or 10 000 lines per container, whichever is reached first. */
export const DEFAULT_LOG_LIMITS: LogHistoryLimits = { maxBytes: 1024 * 1024, maxLines: 10_000 };

/** A line with no line end yet is kept whole up to this size, then cut (a binary stream, a progress bar). */
const MAX_LINE_BYTES = 16 * 1024;

export interface LogQuery {
  /** Only the last `tail` lines (of those from `since` on). */
  tail?: number;
  /** Only lines from this time on (ms since the epoch). */
  since?: number;
}

interface Partial {
  time: number;
  parts: Buffer[];
  size: number;
}

export interface LogFollower {
  line(line: LogLine): void;
  /** The main process ended (its last partial lines were delivered first) or the container went. */
  end(): void;
}

export class LogHistory {
  private lines: LogLine[] = [];
  /** Index of the oldest kept line in `lines` (evicted ones before it are dropped in batches). */
  private head = 0;
  /** Each kept line's size in bytes, beside `lines` (LogLine goes on the wire as it is). */
  private sizes: number[] = [];
  private bytes = 0;
  /** Lines evicted by the bound since the container was created. */
  dropped = 0;
  private readonly partial: Record<OutputStream, Partial | undefined> = { stdout: undefined, stderr: undefined };
  private readonly followers = new Set<LogFollower>();

  constructor(readonly limits: LogHistoryLimits = DEFAULT_LOG_LIMITS) {}

  /**
   * Take a chunk of output: complete lines are kept (and sent to followers) at once. Output can be
   * most of what a location handles (#17), so a line that lies whole in the chunk is decoded
   * straight from it; only the unfinished end of a chunk is copied.
   */
  append(stream: OutputStream, data: Buffer, now = Date.now()): void {
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      this.addPart(stream, data, start, nl, true, now);
      start = nl + 1;
    }
    if (start < data.length) this.addPart(stream, data, start, data.length, false, now);
  }

  /** The main process ended: keep what it wrote without a final line end, and end every follow. */
  flush(): void {
    this.completeLine('stdout');
    this.completeLine('stderr');
    this.endFollowers();
  }

  /** The container went: its followers end (the history goes with the ManagedContainer). */
  close(): void {
    this.endFollowers();
  }

  query(q: LogQuery = {}): LogLine[] {
    let from = this.head;
    if (q.since !== undefined) {
      // Times only grow, so the first line at or after `since` is found by bisection.
      let [lo, hi] = [this.head, this.lines.length];
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.lines[mid].time < q.since) lo = mid + 1;
        else hi = mid;
      }
      from = lo;
    }
    if (q.tail !== undefined) from = Math.max(from, this.lines.length - q.tail);
    return this.lines.slice(from);
  }

  /** The last `n` lines' text, for error messages. */
  lastLines(n: number): string[] {
    return this.query({ tail: n }).map((l) => `${l.stream === 'stderr' ? '[stderr] ' : ''}${l.text}`);
  }

  /**
   * Deliver the lines `q` selects, then every new line, until the main process ends. Synchronous,
   * so no line can fall between the replay and the follow. Returns a function that stops it.
   */
  follow(q: LogQuery, follower: LogFollower, ended: boolean): { replay: LogLine[]; stop: () => void } {
    const replay = this.query(q);
    if (ended) {
      queueMicrotask(() => follower.end());
      return { replay, stop: () => undefined };
    }
    this.followers.add(follower);
    return { replay, stop: () => this.followers.delete(follower) && follower.end() };
  }

  private endFollowers(): void {
    const all = [...this.followers];
    this.followers.clear();
    for (const f of all) f.end();
  }

  /** Bytes `from` to `to` of `data` continue the line of `stream`; `lineEnds` when a line end follows them. */
  private addPart(stream: OutputStream, data: Buffer, from: number, to: number, lineEnds: boolean, now: number): void {
    while (from < to) {
      const p = this.partial[stream];
      const end = Math.min(to, from + MAX_LINE_BYTES - (p?.size ?? 0));
      const cut = end - from + (p?.size ?? 0) >= MAX_LINE_BYTES;
      if (!p && (cut || lineEnds)) {
        this.addLine(stream, now, data.toString('utf8', from, end), end - from);
      } else {
        const q = (this.partial[stream] ??= { time: now, parts: [], size: 0 });
        // Copied: it is kept past this chunk, whose buffer may be reused after the callback returns.
        q.parts.push(Buffer.from(data.subarray(from, end)));
        q.size += end - from;
        if (cut) this.completeLine(stream);
      }
      from = end;
    }
    if (lineEnds) this.completeLine(stream);
  }

  private completeLine(stream: OutputStream): void {
    const p = this.partial[stream];
    if (!p) return;
    this.partial[stream] = undefined;
    const bytes = p.parts.length === 1 ? p.parts[0] : Buffer.concat(p.parts, p.size);
    this.addLine(stream, p.time, bytes.toString('utf8'), p.size);
  }

  /** `size`: the line's bytes as written, which the bound counts. */
  private addLine(stream: OutputStream, time: number, text: string, size: number): void {
    if (text.endsWith('\r')) {
      text = text.slice(0, -1);
      size--;
    }
    const line: LogLine = { time, stream, text };
    this.lines.push(line);
    this.sizes.push(size);
    this.bytes += size;
    this.evict();
    for (const f of this.followers) f.line(line);
  }

  private evict(): void {
    while (this.lines.length - this.head > this.limits.maxLines || (this.bytes > this.limits.maxBytes && this.lines.length - this.head > 1)) {
      this.bytes -= this.sizes[this.head];
      this.head++;
      this.dropped++;
    }
    // Compact now and then, so eviction stays O(1) per line on average.
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
