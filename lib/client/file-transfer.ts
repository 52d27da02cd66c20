/**
 * The SDK's half of `fetch` and `put`: a file crosses the session's WebSocket in chunks of at most
 * FILE_CHUNK_BYTES, never more than FILE_WINDOW_BYTES ahead of the receiver's acknowledgements.
 * `fetch` fills one Buffer of the announced size (the only copy); `put` sends slices of the caller's.
 */
import type { Subscription } from 'rxjs';
import { nanoid } from 'nanoid';
import {
  AckBatcher, ConnectionLost, CreditWindow, EngineError, FILE_CHUNK_BYTES, FILE_WINDOW_BYTES, errorFromWire,
  type EventOf,
} from '../protocol';
import type { SessionContext } from './session-context';

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
  const sub = watch(ctx, transfer, (e) => {
    if (e.event === 'file_ack') {
      acked += e.params.bytes;
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
  try {
    await t.open();
    for await (const chunk of t.chunks) {
      await window.until(() => window.allows(chunk.length) || over());
      if (over()) break;
      ctx.connection.send('file_data', { transfer }, chunk);
      window.spend(chunk.length);
    }
    await window.until(over);
    if (failure) throw failure;
  } catch (err) {
    if (!finished) ctx.connection.send('file_cancel', { transfer });
    throw err;
  } finally {
    sub.unsubscribe();
  }
}

/** Views of `data` of at most FILE_CHUNK_BYTES each (no copies). */
function* slices(data: Uint8Array): Iterable<Uint8Array> {
  for (let at = 0; at < data.length; at += FILE_CHUNK_BYTES) yield data.subarray(at, at + FILE_CHUNK_BYTES);
}
