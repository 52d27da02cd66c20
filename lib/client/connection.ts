/**
 * The location connection as an Observable: one WebSocket (rxjs-websockets over `ws`) carrying
 * msgpack frames. Incoming events are a hot `events$`; requests are matched to their replies by id.
 * Once a session is open, a dropped socket is resumed: reconnect, replay what was missed, re-send
 * unanswered requests (the guide: "minor network disconnections are recovered transparently").
 */
import rxjsWebsockets, { type WebSocketLike } from 'rxjs-websockets';
import { Subject, switchMap, type Observable, type Subscription } from 'rxjs';
import { WebSocket } from './websocket-client';
import { HEARTBEAT_MS, keepAlive } from '../protocol/heartbeat';
import { PLAIN_BINDING } from '../protocol/identity';
import { linkSecurity, type LinkOptions } from './tls-pinning';
import {
  CertificateChanged, ConnectionLost, InsecureLink, LocationUnreachable, ProtocolError, RequestTimeout, SessionExpired, TfnzError, Unauthorized, decodeFrame, encodeFrame, errorFromWire, errorToWire,
  type CommandName, type EventOf, type RequestFrame, type MessageName, type Messages, type ParamsOf, type ResultOf,
} from '../protocol';

export interface ConnectionOptions {
  /** Default time a request may wait for its reply. */
  requestTimeoutMs?: number;
  /** Time to establish the WebSocket. */
  connectTimeoutMs?: number;
  /** How long to keep trying to resume a session after the socket dropped; default 150 s. */
  resumeWindowMs?: number;
  /** How often the socket is checked for life (a ping); two silent intervals drop it. Default 10 s. */
  heartbeatMs?: number;
  /** Called with every decoded frame and every frame sent (debug logging). */
  trace?: (direction: 'in' | 'out', summary: string) => void;
  /** How the link is trusted: a CA for wss://, or plain ws:// beyond loopback (tls-pinning.ts). */
  link?: LinkOptions;
}

/** How to prove, on a new socket, that we are the session's owner. */
export interface ResumeCredentials {
  session: string;
  sign(nonce: Uint8Array, binding: string): { key?: string; proof?: Uint8Array };
}

// rxjs-websockets ships CommonJS with an `exports.default`; Node's ESM loader hands us the module object.
const makeWebSocketObservable: typeof rxjsWebsockets =
  (rxjsWebsockets as unknown as { default?: typeof rxjsWebsockets }).default ?? rxjsWebsockets;

interface Pending {
  command: string;
  params: unknown;
  /** The encoded request, sent again after a resume (the location ignores ids it has seen). */
  frame: Buffer;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * What undoes a command the location ran after its caller was told RequestTimeout (its reply came
 * too late), so that a timed-out request never leaves an orphan behind.
 */
const UNDO: { [C in CommandName]?: (params: ParamsOf<C>) => [CommandName, Record<string, unknown>] } = {
  spawn_container: (p) => ['destroy_container', { container: p.container }],
  spawn_process: (p) => ['destroy_process', { process: p.process }],
  create_tunnel: (p) => ['destroy_tunnel', { tunnel: p.tunnel }],
};
/** Timed-out requests remembered for a late reply, at most this many (the oldest are forgotten). */
const MAX_ABANDONED = 1000;

/**
 * Acknowledge an event within this long of its arrival, so the location can drop its replay copies.
 * The timer runs only while something is unacknowledged: an idle session never wakes for it, and a
 * burst of events shares one ack.
 */
const ACK_EVERY_MS = 500;
const ACK_EVERY_EVENTS = 64;

export class Connection {
  /** Every event from the location, in order, each once (also across a resume). Hot. */
  readonly events$: Observable<EventOf>;
  /** Resolves when the connection ends for good: with the reason, or undefined for a close we asked for. */
  readonly closed: Promise<TfnzError | undefined>;
  /** The first socket's challenge (see identity.ts). */
  readonly challenge: Promise<Uint8Array>;
  /** Hot: 'lost' when the socket dropped and a resume is under way, 'resumed' when it is back. */
  readonly link$: Observable<'lost' | 'resumed'>;

  private readonly events = new Subject<EventOf>();
  private readonly link = new Subject<'lost' | 'resumed'>();
  // ws sends Buffers as binary frames; rxjs-websockets types its payloads for browsers.
  private outgoing = new Subject<ArrayBuffer>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private socket?: Subscription;
  private closing = false;
  private isClosed = false;
  private resolveClosed!: (reason: TfnzError | undefined) => void;
  private nextChallenge!: Promise<Uint8Array>;
  /** Resolves when the current socket drops after it opened. */
  private dropped: Promise<void> = new Promise(() => undefined);
  private resolveDropped = () => {};
  private resolveNextChallenge!: (nonce: Uint8Array) => void;
  private credentials?: ResumeCredentials;
  private reconnecting = false;
  /** Frames sent and not yet confirmed by the location, oldest first; `confirmed` were. */
  private readonly unconfirmed: Buffer[] = [];
  private confirmed = 0;
  /** Frames queued while the socket was down, never written to any socket. */
  private readonly unsent = new Set<Buffer>();
  /** Requests whose callers were told RequestTimeout, by id: a late success is undone (UNDO). */
  private readonly abandoned = new Map<number, { command: CommandName; params: unknown }>();
  /** Sequence number of the last event delivered; older ones (replayed after a resume) are dropped. */
  private lastSeq = 0;
  private ackedSeq = 0;
  /**
   * The last event that is not a `received` confirmation. An ack alone only earns another
   * confirmation, so acking nothing but confirmations made every idle session trade two frames a
   * second with its location forever; the location keeps the unacked confirmations meanwhile.
   */
  private lastSeqToAck = 0;
  private ackTimer?: NodeJS.Timeout;
  /** What the current socket's proof is bound to (identity.ts), known once it opened. */
  private binding = PLAIN_BINDING;
  /** Why the current socket was refused before it opened (a changed certificate, …). */
  private linkFailure?: Error;

  private constructor(
    readonly url: string,
    private readonly opts: ConnectionOptions,
  ) {
    this.events$ = this.events.asObservable();
    this.link$ = this.link.asObservable();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.armChallenge();
    this.challenge = this.nextChallenge;
  }

  /** Open the socket; rejects with LocationUnreachable when nothing answers at `url`. */
  static async open(url: string, opts: ConnectionOptions = {}): Promise<Connection> {
    const conn = new Connection(url, opts);
    await conn.openSocket();
    return conn;
  }

  /**
   * From now on a dropped socket is not the end: reconnect, prove ownership with `credentials`,
   * have the location replay what we missed, and send again whatever it did not receive.
   */
  enableResume(credentials: ResumeCredentials): void {
    this.credentials = credentials;
    if (this.lastSeqToAck > this.ackedSeq) this.scheduleAck();
  }

  request<C extends CommandName>(command: C, params: ParamsOf<C>, timeoutMs?: number): Promise<ResultOf<C>> {
    if (this.isClosed) return Promise.reject(new ConnectionLost(`not connected to the location (${command})`));
    const id = this.nextId++;
    const wait = timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.abandon(id, command, params, frame);
        reject(new RequestTimeout(`the location did not answer '${command}' within ${wait / 1000}s`));
      }, wait);
      const frame = this.encode({ kind: 'request', id, command, params });
      this.pending.set(id, { command, params, frame, resolve: resolve as (r: unknown) => void, reject, timer });
      // resume_session goes to a fresh socket's own greeter, outside the session's numbering.
      if (command === 'resume_session') this.outgoing.next(frame as unknown as ArrayBuffer);
      else this.transmit(frame);
    });
  }

  /** One-way message: no reply; a failure comes back as an `error` event. */
  send<M extends MessageName>(name: M, params: Messages[M], bulk?: Uint8Array): void {
    if (this.isClosed) return;
    this.transmit(this.encode({ kind: 'request', id: 0, command: name, params, bulk }));
  }

  /**
   * Every frame of the session is kept until the location confirms it received it, so a resume
   * can send again exactly what was lost. While the socket is down frames wait here; their
   * number is bounded by the tunnels' and transfers' credit windows.
   */
  private transmit(frame: Buffer): void {
    this.unconfirmed.push(frame);
    if (!this.reconnecting) this.outgoing.next(frame as unknown as ArrayBuffer);
    else this.unsent.add(frame);
  }

  /**
   * Its caller was told RequestTimeout, so the location must not run it now. Waiting to be sent
   * after a resume: it never will be. Sent on a socket that dropped: what is sent again in its
   * place is a harmless `ack` (one frame for one, so the location's count of our frames stays
   * right). Run already (its reply is late): `onData` undoes it when that reply arrives.
   */
  private abandon(id: number, command: CommandName, params: unknown, frame: Buffer): void {
    this.abandoned.set(id, { command, params });
    if (this.abandoned.size > MAX_ABANDONED) this.abandoned.delete(this.abandoned.keys().next().value!);
    const at = this.unconfirmed.indexOf(frame);
    if (at < 0 || !this.reconnecting) return;
    if (this.unsent.delete(frame)) this.unconfirmed.splice(at, 1);
    else this.unconfirmed[at] = this.encode({ kind: 'request', id: 0, command: 'ack', params: { seq: this.ackedSeq } });
  }

  /** A reply came for a request its caller gave up on: undo what it made. */
  private undoLate(id: number, succeeded: boolean): void {
    const late = this.abandoned.get(id);
    if (!late) return;
    this.abandoned.delete(id);
    const undo = UNDO[late.command] as ((p: unknown) => [CommandName, Record<string, unknown>]) | undefined;
    if (!succeeded || !undo) return;
    const [command, params] = undo(late.params);
    this.request(command, params as never).catch(() => undefined);
  }

  /** The location has received `count` frames of this session in all. */
  private confirm(count: number): void {
    if (count > this.confirmed) this.unconfirmed.splice(0, count - this.confirmed);
    this.confirmed = Math.max(this.confirmed, count);
  }

  /** Close the socket; pending requests fail with ConnectionLost. */
  close(): void {
    this.closing = true;
    this.socket?.unsubscribe();
    this.finish(undefined);
  }

  get connected(): boolean {
    return !this.isClosed;
  }

  /** The current socket's channel binding: sign challenges with it (accounts.ts signChallenge). */
  get channelBinding(): string {
    return this.binding;
  }

  private openSocket(): Promise<void> {
    const outgoing = new Subject<ArrayBuffer>();
    this.outgoing = outgoing;
    this.dropped = new Promise((resolve) => (this.resolveDropped = resolve));
    return new Promise((resolve, reject) => {
      let opened = false;
      const link = linkSecurity(this.url, this.opts.link);
      this.linkFailure = undefined;
      const socket$ = makeWebSocketObservable<ArrayBuffer>(this.url, {
        protocols: [],
        makeWebSocket: (u) => {
          const ws = new WebSocket(u, { perMessageDeflate: false, handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000, ...link.clientOptions });
          // The certificate is checked before anything of ours is sent on the socket.
          ws.once('upgrade', (res) => {
            try {
              this.binding = link.verify(res);
            } catch (err) {
              this.linkFailure = err as Error;
              ws.terminate();
            }
          });
          ws.binaryType = 'nodebuffer';
          ws.once('open', () => keepAlive(ws, this.opts.heartbeatMs));
          return ws as unknown as WebSocketLike;
        },
      });
      this.socket = socket$
        .pipe(
          switchMap((getResponses) => {
            opened = true;
            resolve();
            return getResponses(outgoing);
          }),
        )
        .subscribe({
          next: (data) => this.onData(data as unknown as Buffer),
          error: (err: Error) => {
            if (!opened) reject(this.linkFailure ?? new LocationUnreachable(`could not reach the location at ${this.url} (${err.message || 'connection refused'})`));
            else this.onSocketLost(err);
          },
          complete: () => this.onSocketLost(new Error('closed')),
        });
    });
  }

  private onSocketLost(err: Error): void {
    this.resolveDropped();
    if (this.closing || this.isClosed) return;
    const lost = new ConnectionLost(`lost the connection to the location at ${this.url} (${err.message || 'closed'})`);
    if (!this.credentials) return this.finish(lost);
    if (this.reconnecting) return;
    this.reconnecting = true;
    this.link.next('lost');
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const deadline = Date.now() + (this.opts.resumeWindowMs ?? 150_000);
    let delay = 100;
    while (!this.closing && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
      this.socket?.unsubscribe();
      this.armChallenge();
      try {
        await this.openSocket();
        // A socket that opens but stays silent is as dead as one that does not open.
        const patience = Math.min(10_000, 3 * (this.opts.heartbeatMs ?? HEARTBEAT_MS));
        const nonce = await Promise.race([this.nextChallenge, new Promise<never>((_, no) => setTimeout(() => no(new Error('no challenge')), patience).unref())]);
        const { session, sign } = this.credentials!;
        const resumed = this.request('resume_session', { session, lastSeq: this.lastSeq, ...sign(nonce, this.binding) }, 30_000);
        resumed.catch(() => undefined);
        const { received } = await Promise.race([resumed, this.dropped.then(() => Promise.reject(new Error('dropped again')))]);
        this.confirm(received);
      } catch (err) {
        if (err instanceof SessionExpired || err instanceof Unauthorized || err instanceof CertificateChanged || err instanceof InsecureLink) return this.finish(err);
        continue; // the network is still down, or the socket dropped again: try again
      }
      this.reconnecting = false;
      this.unsent.clear();
      for (const frame of this.unconfirmed) this.outgoing.next(frame as unknown as ArrayBuffer);
      this.link.next('resumed');
      return;
    }
    if (!this.closing) this.finish(new SessionExpired(`could not reach the location at ${this.url} again within ${(this.opts.resumeWindowMs ?? 150_000) / 1000}s; the session is gone`));
  }

  private armChallenge(): void {
    this.nextChallenge = new Promise((resolve) => (this.resolveNextChallenge = resolve));
    this.nextChallenge.catch(() => undefined);
  }

  private scheduleAck(): void {
    if (this.ackTimer || !this.credentials || this.isClosed) return;
    this.ackTimer = setTimeout(() => this.ack(), ACK_EVERY_MS);
    this.ackTimer.unref();
  }

  private ack(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.lastSeqToAck <= this.ackedSeq || this.isClosed) return;
    if (this.reconnecting) return this.scheduleAck(); // again once the socket is back
    this.ackedSeq = this.lastSeq;
    this.send('ack', { seq: this.lastSeq });
  }

  private encode(frame: RequestFrame): Buffer {
    if (this.opts.trace) this.opts.trace('out', summarise(frame.command, frame.params, frame.bulk));
    return encodeFrame(frame);
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
      if (!pending) return this.undoLate(frame.id, !frame.error); // timed out already, or a replayed copy
      this.pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (this.opts.trace) this.opts.trace('in', summarise(`reply:${pending.command}`, frame.error ?? frame.result));
      if (frame.error) pending.reject(errorFromWire(frame.error));
      else pending.resolve(frame.result);
    } else if (frame.kind === 'event') {
      // Each socket opens with a challenge, outside the session's numbering.
      if (frame.event === 'challenge') return this.resolveNextChallenge((frame.params as { nonce: Uint8Array }).nonce);
      if (frame.event === 'received') this.confirm((frame.params as { count: number }).count);
      if (frame.seq <= this.lastSeq) return; // replayed after a resume, seen already
      this.lastSeq = frame.seq;
      if (frame.event !== 'received') this.lastSeqToAck = frame.seq;
      if (this.lastSeq - this.ackedSeq >= ACK_EVERY_EVENTS && this.credentials) this.ack();
      else if (this.lastSeqToAck > this.ackedSeq) this.scheduleAck();
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
    clearTimeout(this.ackTimer);
    this.socket?.unsubscribe();
    const err = reason ?? new ConnectionLost('the connection to the location was closed');
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.resolveClosed(reason);
    this.events.complete();
    this.link.complete();
  }
}

function summarise(name: string, params: unknown, bulk?: Uint8Array): string {
  // #19: registry credentials never reach a log, not even a debug one.
  const text = JSON.stringify(params, (key, value: unknown) => ((key === 'registryAuth' || key === 'secret') && value ? '(hidden)' : value)) ?? '';
  return `${name} ${text.length > 200 ? text.slice(0, 200) + '…' : text}${bulk ? ` +${bulk.length} bytes` : ''}`;
}
