/**
 * The output a container's main process wrote, kept by the location as timestamped lines for as
 * long as the container exists, so late readers (ctr.logs, a wait for a log message, a failing
 * start's error) see what was written before they asked. Bounded per container: the oldest lines
 * go first once either bound is passed.
 *
 * Output can be most of what a location handles (#17): a line is kept as the bytes it was written
 * as, copied into reused blocks, and only decoded to text when someone reads or follows it. So
 * keeping output allocates nothing per line, and the garbage collector never sees it.
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

/** Kept lines live in blocks of up to this size (a line never spans two); the first ones are smaller. */
const BLOCK_BYTES = 64 * 1024;
const FIRST_BLOCK_BYTES = 1024;
/** Lines up to this size are copied byte by byte: cheaper than Buffer.copy's call for most log lines. */
const SMALL_COPY = 256;

export interface LogQuery {
  /** Only the last `tail` lines (of those from `since` on). */
  tail?: number;
  /** Only lines from this time on (ms since the epoch). */
  since?: number;
}

/** The line of one stream that has no line end yet: its bytes so far, in a buffer reused for the next. */
interface OpenLine {
  time: number;
  bytes: Buffer;
  size: number;
}

export interface LogFollower {
  line(line: LogLine): void;
  /** The main process ended (its last partial lines were delivered first) or the container went. */
  end(): void;
}

export class LogHistory {
  // The kept lines, oldest at `head`, as parallel arrays: keeping a line allocates no object.
  private times: number[] = [];
  private streams: OutputStream[] = [];
  private blocks: Buffer[] = [];
  private offsets: number[] = [];
  private sizes: number[] = [];
  /** Index of the oldest kept line (evicted ones before it are dropped in batches). */
  private head = 0;
  private bytes = 0;
  /** The block new lines go to, how much of it is used, and a freed one to use next. */
  private block?: Buffer;
  private blockUsed = 0;
  private spare?: Buffer;
  private blocksMade = 0;
  /** Lines evicted by the bound since the container was created. */
  dropped = 0;
  private readonly open: Record<OutputStream, OpenLine> = {
    stdout: { time: 0, bytes: Buffer.alloc(0), size: 0 },
    stderr: { time: 0, bytes: Buffer.alloc(0), size: 0 },
  };
  private readonly followers = new Set<LogFollower>();

  constructor(readonly limits: LogHistoryLimits = DEFAULT_LOG_LIMITS) {}

  /** Take a chunk of output: complete lines are kept (and sent to followers) at once. */
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
    const count = this.times.length;
    if (q.since !== undefined) {
      // Times only grow, so the first line at or after `since` is found by bisection.
      let [lo, hi] = [this.head, count];
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.times[mid] < q.since) lo = mid + 1;
        else hi = mid;
      }
      from = lo;
    }
    if (q.tail !== undefined) from = Math.max(from, count - q.tail);
    const lines: LogLine[] = [];
    for (let i = from; i < count; i++) lines.push(this.line(i));
    return lines;
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
      const open = this.open[stream];
      const end = Math.min(to, from + MAX_LINE_BYTES - open.size);
      const cut = open.size + end - from >= MAX_LINE_BYTES;
      if (open.size === 0 && (cut || lineEnds)) this.keep(stream, now, data, from, end); // whole in this chunk
      else {
        this.extend(open, data, from, end, now);
        if (cut) this.completeLine(stream);
      }
      from = end;
    }
    if (lineEnds) this.completeLine(stream);
  }

  /** Copied: the line is kept past this chunk, whose buffer may be reused after the callback returns. */
  private extend(open: OpenLine, data: Buffer, from: number, end: number, now: number): void {
    if (open.size === 0) open.time = now;
    const size = open.size + end - from;
    if (open.bytes.length < size) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_LINE_BYTES, Math.max(size, 2 * open.bytes.length, 256)));
      open.bytes.copy(grown, 0, 0, open.size);
      open.bytes = grown;
    }
    data.copy(open.bytes, open.size, from, end);
    open.size = size;
  }

  private completeLine(stream: OutputStream): void {
    const open = this.open[stream];
    if (open.size === 0) return;
    const size = open.size;
    open.size = 0;
    this.keep(stream, open.time, open.bytes, 0, size);
  }

  /** Keep bytes `from` to `end` of `data` as a line (without the \r of a \r\n). */
  private keep(stream: OutputStream, time: number, data: Buffer, from: number, end: number): void {
    if (end > from && data[end - 1] === 0x0d) end--;
    const size = end - from;
    const block = this.room(size);
    if (size > SMALL_COPY) data.copy(block, this.blockUsed, from, end);
    else for (let i = 0, at = this.blockUsed; i < size; i++) block[at + i] = data[from + i];
    this.times.push(time);
    this.streams.push(stream);
    this.blocks.push(block);
    this.offsets.push(this.blockUsed);
    this.sizes.push(size);
    this.blockUsed += size;
    this.bytes += size;
    // Decoded only for followers, and before eviction could take it.
    const line = this.followers.size > 0 ? this.line(this.times.length - 1) : undefined;
    this.evict();
    if (line) for (const f of this.followers) f.line(line);
  }

  private line(i: number): LogLine {
    const offset = this.offsets[i];
    return { time: this.times[i], stream: this.streams[i], text: this.blocks[i].toString('utf8', offset, offset + this.sizes[i]) };
  }

  /** The block with `size` bytes free for the next line: the current one, the spare, or a new one. */
  private room(size: number): Buffer {
    if (this.block && this.block.length - this.blockUsed >= size) return this.block;
    const spare = this.spare;
    this.spare = undefined;
    // Blocks grow from small, so a container that writes little holds little.
    this.block = spare && spare.length >= size ? spare : Buffer.allocUnsafe(Math.max(size, Math.min(BLOCK_BYTES, FIRST_BLOCK_BYTES * 2 ** Math.min(this.blocksMade++, 6))));
    this.blockUsed = 0;
    return this.block;
  }

  private evict(): void {
    while (this.times.length - this.head > this.limits.maxLines || (this.bytes > this.limits.maxBytes && this.times.length - this.head > 1)) {
      const block = this.blocks[this.head];
      this.bytes -= this.sizes[this.head];
      this.head++;
      this.dropped++;
      // Lines fill blocks in order: once the oldest kept line is in another block, this one is free.
      if (block !== this.block && this.blocks[this.head] !== block) this.spare = block;
    }
    // Compact now and then, so eviction stays O(1) per line on average.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      for (const a of [this.times, this.streams, this.blocks, this.offsets, this.sizes]) a.splice(0, this.head);
      this.head = 0;
    }
  }
}
