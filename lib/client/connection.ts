/**
 * The location connection as an Observable: one WebSocket (rxjs-websockets over `ws`) carrying
 * msgpack frames. Incoming events are a hot `events$`; requests are matched to their replies by id.
 */
import rxjsWebsockets, { type WebSocketLike } from 'rxjs-websockets';
import { Subject, switchMap, type Observable, type Subscription } from 'rxjs';
import { WebSocket } from 'ws';
import {
  ConnectionLost, LocationUnreachable, ProtocolError, RequestTimeout, TfnzError, decodeFrame, encodeFrame, errorFromWire, errorToWire,
  type CommandName, type EventOf, type RequestFrame, type MessageName, type Messages, type ParamsOf, type ResultOf,
} from '../protocol';

export interface ConnectionOptions {
  /** Default time a request may wait for its reply. */
  requestTimeoutMs?: number;
  /** Time to establish the WebSocket. */
  connectTimeoutMs?: number;
  /** Called with every decoded frame and every frame sent (debug logging). */
  trace?: (direction: 'in' | 'out', summary: string) => void;
}

// rxjs-websockets ships CommonJS with an `exports.default`; Node's ESM loader hands us the module object.
const makeWebSocketObservable: typeof rxjsWebsockets =
  (rxjsWebsockets as unknown as { default?: typeof rxjsWebsockets }).default ?? rxjsWebsockets;

interface Pending {
  command: string;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Connection {
  /** Every event from the location, in order. Hot: subscribe before you act. */
  readonly events$: Observable<EventOf>;
  /** Resolves when the socket closes: with the reason, or undefined for a close we asked for. */
  readonly closed: Promise<TfnzError | undefined>;

  private readonly events = new Subject<EventOf>();
  // ws sends Buffers as binary frames; rxjs-websockets types its payloads for browsers.
  private readonly outgoing = new Subject<ArrayBuffer>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private subscription?: Subscription;
  private closing = false;
  private isClosed = false;
  private resolveClosed!: (reason: TfnzError | undefined) => void;

  private constructor(
    readonly url: string,
    private readonly opts: ConnectionOptions,
  ) {
    this.events$ = this.events.asObservable();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Open the socket; rejects with LocationUnreachable when nothing answers at `url`. */
  static open(url: string, opts: ConnectionOptions = {}): Promise<Connection> {
    const conn = new Connection(url, opts);
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket$ = makeWebSocketObservable<ArrayBuffer>(url, {
        protocols: [],
        makeWebSocket: (u) => {
          const ws = new WebSocket(u, { perMessageDeflate: false, handshakeTimeout: opts.connectTimeoutMs ?? 10_000 });
          ws.binaryType = 'nodebuffer';
          return ws as unknown as WebSocketLike;
        },
      });
      conn.subscription = socket$
        .pipe(
          switchMap((getResponses) => {
            opened = true;
            resolve(conn);
            return getResponses(conn.outgoing);
          }),
        )
        .subscribe({
          next: (data) => conn.onData(data as unknown as Buffer),
          error: (err: Error) => {
            if (!opened) reject(new LocationUnreachable(`could not reach the location at ${url} (${err.message || 'connection refused'})`));
            conn.finish(conn.closing ? undefined : new ConnectionLost(`lost the connection to the location at ${url} (${err.message || 'closed'})`));
          },
          complete: () => conn.finish(undefined),
        });
    });
  }

  request<C extends CommandName>(command: C, params: ParamsOf<C>, timeoutMs?: number): Promise<ResultOf<C>> {
    if (this.isClosed) return Promise.reject(new ConnectionLost(`not connected to the location (${command})`));
    const id = this.nextId++;
    const wait = timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeout(`the location did not answer '${command}' within ${wait / 1000}s`));
      }, wait);
      this.pending.set(id, { command, resolve: resolve as (r: unknown) => void, reject, timer });
      this.write({ kind: 'request', id, command, params });
    });
  }

  /** One-way message: no reply; a failure comes back as an `error` event. */
  send<M extends MessageName>(name: M, params: Messages[M], bulk?: Uint8Array): void {
    if (this.isClosed) return;
    this.write({ kind: 'request', id: 0, command: name, params, bulk });
  }

  /** Close the socket; pending requests fail with ConnectionLost. */
  close(): void {
    this.closing = true;
    this.subscription?.unsubscribe();
    this.finish(undefined);
  }

  get connected(): boolean {
    return !this.isClosed;
  }

  private write(frame: RequestFrame): void {
    if (this.opts.trace) this.opts.trace('out', summarise(frame.command, frame.params, frame.bulk));
    this.outgoing.next(encodeFrame(frame) as unknown as ArrayBuffer);
  }

  private onData(data: Buffer): void {
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      this.events.next({ event: 'error', seq: 0, params: { error: { code: 'PROTOCOL_ERROR', message: (err as Error).message } } });
      return;
    }
    if (frame.kind === 'reply') {
      const pending = this.pending.get(frame.id);
      if (!pending) return; // timed out already
      this.pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (this.opts.trace) this.opts.trace('in', summarise(`reply:${pending.command}`, frame.error ?? frame.result));
      if (frame.error) pending.reject(errorFromWire(frame.error));
      else pending.resolve(frame.result);
    } else if (frame.kind === 'event') {
      if (this.opts.trace && frame.event !== 'tunnel_data' && frame.event !== 'tunnel_ack') {
        this.opts.trace('in', summarise(frame.event, frame.params, frame.bulk));
      }
      this.events.next({ event: frame.event, seq: frame.seq, params: frame.params, bulk: frame.bulk } as EventOf);
    } else {
      this.events.next({ event: 'error', seq: 0, params: { error: errorToWire(new ProtocolError('the location sent a request frame')) } });
    }
  }

  private finish(reason: TfnzError | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const err = reason ?? new ConnectionLost('the connection to the location was closed');
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.resolveClosed(reason);
    this.events.complete();
  }
}

function summarise(name: string, params: unknown, bulk?: Uint8Array): string {
  const text = JSON.stringify(params) ?? '';
  return `${name} ${text.length > 200 ? text.slice(0, 200) + '…' : text}${bulk ? ` +${bulk.length} bytes` : ''}`;
}
