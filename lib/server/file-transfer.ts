/**
 * The location's half of `fetch` and `put`: a file streamed between the engine and the session in
 * chunks of at most FILE_CHUNK_BYTES, with a credit window in each direction, so a 100 MB file
 * never sits whole in the location's memory and control messages never queue behind it.
 */
import {
  BadRequest, FILE_CHUNK_BYTES, FILE_WINDOW_BYTES, errorToWire,
  type ErrorBody,
} from '../protocol';
import type { FileSink, FileSource } from '../engines/engine';

export interface Transfer {
  readonly id: string;
  pause(): void;
  resume(): void;
  /** Give up; with `error`, the client is told why. */
  cancel(error?: ErrorBody): void;
}

/** engine → client. Sends only while the client has granted credit and the socket is not congested. */
export class FileReader implements Transfer {
  private credit = 0;
  private paused = false;
  private cancelled = false;
  private wake?: () => void;

  constructor(
    readonly id: string,
    private readonly source: FileSource,
    private readonly send: { data(chunk: Uint8Array): void; end(error?: ErrorBody): void },
    private readonly onDone: () => void,
  ) {}

  /** The client took `bytes`; the first grant starts the flow. */
  grant(bytes: number): void {
    this.credit = Math.min(this.credit + bytes, FILE_WINDOW_BYTES);
    this.poke();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.poke();
  }
  /** Stop sending; with `error`, tell the client why. */
  cancel(error?: ErrorBody): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.source.cancel();
    if (error) this.send.end(error);
    this.poke();
  }

  async run(): Promise<void> {
    try {
      // Nothing (not even the end of an empty file) may overtake the reply that announces the size.
      while (this.credit <= 0 && !this.cancelled) await new Promise<void>((r) => (this.wake = r));
      // The engine's archive stream comes in pieces of ~20 KB: gather them into full chunks, so a
      // 100 MB file is ~100 frames (and ~100 events for the client to fold), not thousands.
      let gathered: Uint8Array[] = [];
      let size = 0;
      const flush = async () => {
        while ((this.credit <= 0 || this.paused) && !this.cancelled) await new Promise<void>((r) => (this.wake = r));
        if (this.cancelled) return;
        const piece = gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, size);
        gathered = [];
        size = 0;
        this.credit -= piece.length;
        this.send.data(piece);
      };
      for await (const chunk of this.source.chunks) {
        for (let at = 0; at < chunk.length; ) {
          const piece = chunk.subarray(at, at + FILE_CHUNK_BYTES - size);
          gathered.push(piece);
          size += piece.length;
          at += piece.length;
          if (size === FILE_CHUNK_BYTES) await flush();
          if (this.cancelled) return;
        }
      }
      if (size > 0) await flush();
      if (!this.cancelled) this.send.end();
    } catch (err) {
      if (!this.cancelled) this.send.end(errorToWire(err));
    } finally {
      this.cancelled = true;
      this.onDone();
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** client → engine. Writes chunks in order and acknowledges each once the engine took it. */
export class FileWriter implements Transfer {
  private received = 0;
  /** Bytes acknowledged: the client may be at most FILE_WINDOW_BYTES ahead of them. */
  private acked = 0;
  private queue: Promise<void> = Promise.resolve();
  private done = false;

  constructor(
    readonly id: string,
    private readonly sink: FileSink,
    private readonly size: number,
    private readonly send: { ack(bytes: number): void; end(error?: ErrorBody): void },
    private readonly onDone: () => void,
  ) {}

  data(chunk: Uint8Array): void {
    if (this.done) return;
    this.received += chunk.length;
    if (this.received > this.size) return this.fail(new BadRequest(`more than the announced ${this.size} bytes arrived`));
    // Held to the credit window here too, or a client could queue a whole file in our memory.
    if (this.received - this.acked > FILE_WINDOW_BYTES) return this.fail(new BadRequest(`data arrived beyond the ${FILE_WINDOW_BYTES}-byte window; wait for file_ack before sending more`));
    const bytes = chunk.length;
    this.queue = this.queue.then(async () => {
      if (this.done) return;
      await this.sink.write(chunk);
      this.acked += bytes;
      this.send.ack(bytes);
    });
    if (this.received === this.size) this.complete();
    else this.queue.catch((err) => this.fail(err));
  }

  /** All bytes are queued (or there were none): finish the file and say so. */
  complete(): void {
    this.queue
      .then(() => this.sink.finish())
      .then(
        () => this.finish(),
        (err) => this.fail(err),
      );
  }

  // Congestion does not apply: this direction only sends small acks.
  pause(): void {}
  resume(): void {}

  cancel(error?: ErrorBody): void {
    if (this.done) return;
    this.done = true;
    void this.sink.abort();
    if (error) this.send.end(error);
    this.onDone();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.send.end();
    this.onDone();
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    void this.sink.abort();
    this.send.end(errorToWire(err));
    this.onDone();
  }
}
