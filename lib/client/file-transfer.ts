/**
 * The SDK's half of `fetch` and `put`: a file crosses the session's WebSocket in chunks of at most
 * FILE_CHUNK_BYTES, never more than FILE_WINDOW_BYTES ahead of the receiver's acknowledgements.
 * `fetch` fills one Buffer of the announced size (the only copy); `put` sends slices of the caller's.
 */
import type { Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import { nanoid } from 'nanoid';
import {
  AckBatcher, ConnectionLost, CreditWindow, EngineError, FILE_CHUNK_BYTES, FILE_WINDOW_BYTES, RequestTimeout, TfnzError, errorFromWire,
  type EventOf,
} from '../protocol';
import type { SessionContext } from './session-context';
import type { DataConnection } from './data-connection';

type TransferEvent = EventOf<'file_data' | 'file_ack' | 'file_end'>;

/** A transfer's events (fetch, put, layer upload), subscribed before its request is sent so none is missed. */
function watch(ctx: SessionContext, transfer: string, onEvent: (e: TransferEvent) => void, onClosed: () => void): Subscription {
  return ctx.events.of('transfer', transfer).subscribe({ next: onEvent, complete: onClosed });
}

export async function fetchFile(ctx: SessionContext, container: string, path: string): Promise<Buffer> {
  const transfer = nanoid();
  let settle!: { resolve(b: Buffer): void; reject(e: Error): void };
  const done = new Promise<Buffer>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined); // it may fail before it is awaited; the await below still sees it
  let out: Buffer | undefined;
  let received = 0;
  // Batched credit: one ack per chunk's worth keeps the window full without a message per frame.
  const acks = new AckBatcher((bytes) => ctx.connection.send('file_ack', { transfer, bytes }), FILE_CHUNK_BYTES);
  const sub = watch(ctx, transfer, (e) => {
    if (e.event === 'file_data' && out) {
      const chunk = e.bulk ?? new Uint8Array(0);
      if (received + chunk.length > out.length) return settle.reject(new EngineError(`'${path}' grew while it was being fetched`));
      out.set(chunk, received);
      received += chunk.length;
      acks.took(chunk.length);
    } else if (e.event === 'file_end') {
      if (e.params.error) settle.reject(errorFromWire(e.params.error));
      else if (!out || received !== out.length) settle.reject(new EngineError(`'${path}' ended after ${received} of ${out?.length ?? '?'} bytes`));
      else settle.resolve(out);
    }
  }, () => settle.reject(new ConnectionLost(`the connection closed while fetching '${path}'`)));
  try {
    const { size } = await ctx.connection.request('fetch_file', { container, path, transfer });
    out = Buffer.allocUnsafe(size);
    // The location sends nothing before this first grant, so `out` exists before any data arrives.
    ctx.connection.send('file_ack', { transfer, bytes: FILE_WINDOW_BYTES });
    return await done;
  } catch (err) {
    ctx.connection.send('file_cancel', { transfer });
    throw err;
  } finally {
    acks.stop();
    sub.unsubscribe();
  }
}

export async function putFile(ctx: SessionContext, container: string, path: string, data: Uint8Array): Promise<void> {
  const transfer = nanoid();
  await sendTransfer(ctx, {
    transfer,
    what: `putting '${path}'`,
    open: () => ctx.connection.request('put_file', { container, path, transfer, size: data.length }),
    chunks: slices(data),
  });
}

export interface OutgoingTransfer {
  transfer: string;
  /** For the error when the connection closes: "putting '/etc/motd'". */
  what: string;
  /** The request that announces the transfer; data follows its reply. */
  open(): Promise<unknown>;
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Bytes the receiver has taken so far, as its acknowledgements arrive. */
  onAcked?(bytes: number): void;
  /**
   * #17: a data connection to send the bytes on instead, given `open`'s reply (undefined: none,
   * `chunks` go as file_data), and the bytes to send raw on it (TCP paces them, any chunk size).
   */
  link?: { dial(opened: unknown): Promise<DataConnection | undefined>; chunks: AsyncIterable<Uint8Array> };
}

/**
 * Send a transfer's chunks as `file_data`, never more than FILE_WINDOW_BYTES ahead of the
 * receiver's `file_ack`s; resolves on its `file_end` (rejects with the error it carries). A failure
 * on our side cancels the transfer at the receiver. Used by put and by image layer uploads.
 */
export async function sendTransfer(ctx: SessionContext, t: OutgoingTransfer): Promise<void> {
  const { transfer } = t;
  const window = new CreditWindow(FILE_WINDOW_BYTES);
  let acked = 0;
  let failure: Error | undefined;
  let finished = false;
  let onAcked: ((total: number) => void) | undefined;
  const sub = watch(ctx, transfer, (e) => {
    if (e.event === 'file_ack') {
      acked += e.params.bytes;
      onAcked?.(acked);
      t.onAcked?.(acked);
      window.grant(e.params.bytes);
    } else if (e.event === 'file_end') {
      finished = true;
      if (e.params.error) failure = errorFromWire(e.params.error);
      window.wake();
    }
  }, () => {
    failure ??= new ConnectionLost(`the connection closed while ${t.what}`);
    window.wake();
  });
  const over = () => finished || failure !== undefined;
  let linked: LinkedSender | undefined;
  try {
    const opened = await t.open();
    const link = await t.link?.dial(opened);
    if (link) {
      linked = new LinkedSender(ctx, transfer, over, (err) => {
        failure ??= err;
        window.wake();
      });
      onAcked = (bytes) => linked?.acked(bytes);
      linked.attach(link.socket, link.peerReceived);
      for await (const chunk of t.link!.chunks) {
        // The window bounds what is kept for a resend, as it bounds what is in flight on the WebSocket.
        await window.until(() => window.allows(chunk.length) || over());
        if (over()) break;
        window.spend(chunk.length);
        await linked.send(chunk);
      }
      linked.end();
    } else {
      for await (const chunk of t.chunks) {
        await window.until(() => window.allows(chunk.length) || over());
        if (over()) break;
        ctx.connection.send('file_data', { transfer }, chunk);
        window.spend(chunk.length);
      }
    }
    await window.until(over);
    if (failure) throw failure;
  } catch (err) {
    if (!finished) ctx.connection.send('file_cancel', { transfer });
    throw err;
  } finally {
    linked?.close();
    sub.unsubscribe();
  }
}

/** How long a broken data connection of a transfer is dialled again: as long as the session itself may resume. */
const REDIAL_WINDOW_MS = 150_000;

/**
 * #17: a transfer's bytes raw on a data connection, each kept until the receiver acknowledges it;
 * when the connection breaks, a new one (upload_relink) carries on from the receiver's count, with
 * backoff, for as long as the session may resume.
 */
class LinkedSender {
  private link?: Socket;
  /** Sent and not acknowledged, oldest first: they start at `replayFrom`. */
  private readonly replay: Uint8Array[] = [];
  private replayFrom = 0;
  private sent = 0;
  private ended = false;
  private closed = false;
  private relinking?: Promise<void>;

  constructor(
    private readonly ctx: SessionContext,
    private readonly transfer: string,
    private readonly over: () => boolean,
    private readonly fail: (err: TfnzError) => void,
  ) {}

  /** Carry on over `link`, on which the receiver said it has `peerReceived` bytes. */
  attach(link: Socket, peerReceived: number): void {
    if (this.closed) return void link.destroy();
    if (peerReceived < this.replayFrom || peerReceived > this.sent) {
      link.destroy();
      throw new ConnectionLost(`the location's count of bytes of a transfer is impossible (${peerReceived})`);
    }
    this.acked(peerReceived);
    this.link = link;
    link.on('error', () => undefined); // 'close' follows
    link.once('close', () => {
      if (this.link !== link) return;
      this.link = undefined;
      if (!this.closed && !this.over()) this.relinking = this.relink();
    });
    link.resume(); // the receiver sends nothing; reading lets its end close the connection
    for (const chunk of this.replay) link.write(chunk);
    if (this.ended) link.end();
  }

  /** The receiver has `total` bytes: they need no resend. */
  acked(total: number): void {
    while (this.replay.length && this.replayFrom < total) {
      const head = this.replay[0];
      const drop = total - this.replayFrom;
      if (head.length <= drop) this.replay.shift();
      else this.replay[0] = head.subarray(drop);
      this.replayFrom += Math.min(head.length, drop);
    }
  }

  async send(chunk: Uint8Array): Promise<void> {
    this.replay.push(chunk);
    this.sent += chunk.length;
    if (!this.link) return this.relinking;
    if (this.link.write(chunk)) return;
    const link = this.link;
    await new Promise<void>((resolve) => {
      const done = () => {
        link.off('drain', done).off('close', done);
        resolve();
      };
      link.on('drain', done).on('close', done);
    });
  }

  end(): void {
    this.ended = true;
    this.link?.end();
  }

  close(): void {
    this.closed = true;
    this.link?.destroy();
    this.replay.length = 0;
  }

  private async relink(): Promise<void> {
    const deadline = Date.now() + REDIAL_WINDOW_MS;
    for (let delay = 50; !this.closed && !this.over(); delay = Math.min(delay * 2, 2000)) {
      try {
        const { conn, secret } = await this.ctx.connection.request('upload_relink', { transfer: this.transfer });
        const { socket, peerReceived } = await this.ctx.dialData!(conn, secret, 0);
        return this.attach(socket, peerReceived);
      } catch (err) {
        // A transfer that ended meanwhile was told so (file_end) before this request's answer.
        if (this.over() || this.closed) return;
        const located = err instanceof TfnzError && !(err instanceof RequestTimeout);
        if (located || Date.now() > deadline || !this.ctx.connection.connected) {
          return this.fail(located ? (err as TfnzError) : new ConnectionLost(`a transfer lost its data connection and could not dial it again: ${(err as Error).message}`));
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/** Views of `data` of at most FILE_CHUNK_BYTES each (no copies). */
function* slices(data: Uint8Array): Iterable<Uint8Array> {
  for (let at = 0; at < data.length; at += FILE_CHUNK_BYTES) yield data.subarray(at, at + FILE_CHUNK_BYTES);
}
