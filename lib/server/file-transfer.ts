/**
 * The location's half of `fetch` and `put`: a file streamed between the engine and the session in
 * chunks of at most FILE_CHUNK_BYTES, with a credit window in each direction, so a 100 MB file
 * never sits whole in the location's memory and control messages never queue behind it.
 */
import type { Socket } from 'node:net';
import {
  AckBatcher, BadRequest, CreditWindow, FILE_CHUNK_BYTES, FILE_WINDOW_BYTES, errorToWire,
  type ErrorBody,
} from '../protocol';
import type { FileSink, FileSource } from '../engines/engine';
import { gatherChunks } from '../shared/gather-chunks';

export interface Transfer {
  readonly id: string;
  pause(): void;
  resume(): void;
  /** Give up; with `error`, the client is told why. */
  cancel(error?: ErrorBody): void;
}

/** engine → client. Sends only while the client has granted credit and the socket is not congested. */
export class FileReader implements Transfer {
  /** Nothing may go out before the client's first grant. */
  private readonly window = new CreditWindow(0, FILE_WINDOW_BYTES);
  private paused = false;
  private cancelled = false;

  constructor(
    readonly id: string,
    private readonly source: FileSource,
    private readonly send: { data(chunk: Uint8Array): void; end(error?: ErrorBody): void },
    private readonly onDone: () => void,
  ) {}

  /** The client took `bytes`; the first grant starts the flow. */
  grant(bytes: number): void {
    this.window.grant(bytes);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.window.wake();
  }
  /** Stop sending; with `error`, tell the client why. */
  cancel(error?: ErrorBody): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.source.cancel();
    if (error) this.send.end(error);
    this.window.wake();
  }

  async run(): Promise<void> {
    try {
      // Nothing (not even the end of an empty file) may overtake the reply that announces the size.
      await this.window.until(() => this.window.allows() || this.cancelled);
      for await (const piece of gatherChunks(this.source.chunks, FILE_CHUNK_BYTES)) {
        await this.window.until(() => (this.window.allows() && !this.paused) || this.cancelled);
        if (this.cancelled) return;
        this.window.spend(piece.length);
        this.send.data(piece);
      }
      if (!this.cancelled) this.send.end();
    } catch (err) {
      if (!this.cancelled) this.send.end(errorToWire(err));
    } finally {
      this.cancelled = true;
      this.onDone();
    }
  }
}

/** client → engine. Writes chunks in order and acknowledges each once the engine took it. */
export class FileWriter implements Transfer {
  private received = 0;
  /** Bytes acknowledged: the client may be at most FILE_WINDOW_BYTES ahead of them. */
  private acked = 0;
  private queue: Promise<void> = Promise.resolve();
  private done = false;
  /** Each chunk is acknowledged as soon as the engine took it. */
  private acks: AckBatcher;
  /** The data connection the bytes come on instead of file_data (upload-links.ts). */
  private link?: Socket;
  /** Chunks waiting for the write in flight to end, to be written together. */
  private batch?: Uint8Array[];

  constructor(
    readonly id: string,
    private readonly sink: FileSink,
    private readonly size: number,
    private readonly send: { ack(bytes: number): void; end(error?: ErrorBody): void },
    private readonly onDone: () => void,
  ) {
    this.acks = new AckBatcher((bytes) => send.ack(bytes), 0);
  }

  /** Bytes arrived so far. */
  get receivedBytes(): number {
    return this.received;
  }

  /** Its bytes come on a data connection (attachLink). */
  get linked(): boolean {
    return this.link !== undefined;
  }

  data(chunk: Uint8Array): void {
    if (this.done || this.link) return;
    this.received += chunk.length;
    if (this.received > this.size) return this.fail(new BadRequest(`more than the announced ${this.size} bytes arrived`));
    // Held to the credit window here too, or a client could queue a whole file in our memory.
    if (this.received - this.acked > FILE_WINDOW_BYTES) return this.fail(new BadRequest(`data arrived beyond the ${FILE_WINDOW_BYTES}-byte window; wait for file_ack before sending more`));
    this.write(chunk);
  }

  /**
   * Take the rest of the bytes raw from `link`, a data connection (upload-links.ts): it is read
   * only while less than FILE_WINDOW_BYTES wait to be written, and acks go out per FILE_CHUNK_BYTES
   * (they only report progress now). False (and `link` destroyed) once the transfer is over.
   */
  attachLink(link: Socket): boolean {
    if (this.done) {
      link.destroy();
      return false;
    }
    // A new data connection replaces a broken one; the sender goes on from `receivedBytes`.
    const old = this.link;
    old?.removeAllListeners('data');
    old?.destroy();
    this.link = link;
    if (!old) this.acks = new AckBatcher(this.send.ack, FILE_CHUNK_BYTES);
    link.on('data', (chunk: Buffer) => {
      if (this.done || link !== this.link) return;
      this.received += chunk.length;
      if (this.received > this.size) return this.fail(new BadRequest(`more than the announced ${this.size} bytes arrived`));
      if (this.received - this.acked > FILE_WINDOW_BYTES) link.pause();
      this.write(chunk);
    });
    // A broken one is not the end: the sender dials again (upload_relink), or cancels, or its session ends.
    link.on('error', () => undefined);
    return true;
  }

  /**
   * Queue `chunk` for the sink. On a data connection, chunks that arrive while a write is in flight
   * go in one write after it (they come 64 KiB at a time: a file write each costs more than the copy).
   */
  private write(chunk: Uint8Array): void {
    if (this.link && this.batch) this.batch.push(chunk);
    else this.startBatch(chunk);
    if (this.received === this.size) this.complete();
  }

  private startBatch(chunk: Uint8Array): void {
    const batch = [chunk];
    this.batch = batch;
    this.queue = this.queue.then(async () => {
      this.batch = undefined;
      if (this.done) return;
      const data = batch.length === 1 ? batch[0] : Buffer.concat(batch);
      await this.sink.write(data);
      this.acked += data.length;
      this.acks.took(data.length);
      if (this.link?.isPaused() && this.received - this.acked <= FILE_WINDOW_BYTES / 2) this.link.resume();
    });
    this.queue.catch((err) => this.fail(err));
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
    this.link?.destroy();
    this.onDone();
  }

  // file_end goes out before the data connection ends: a sender that asks for a new one then hears the end first.
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.acks.flush();
    this.send.end();
    this.link?.end();
    this.onDone();
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    void this.sink.abort();
    this.send.end(errorToWire(err));
    this.link?.destroy();
    this.onDone();
  }
}
