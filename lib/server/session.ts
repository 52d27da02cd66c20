/**
 * One client session on one WebSocket: decodes frames, runs commands, sends numbered events, and
 * when it ends collects everything it made (containers, tunnels) — never volumes.
 * A bad frame or a failing command gets an error reply or event; it never ends the session.
 * When the socket drops, the session waits `ctx.graceMs` for its client to resume it on a new one
 * (keeping a replay copy of every frame the client has not acknowledged); then it ends. A session
 * that asked to be kept (keep_session, #20: tfnz run -d) instead lives on without a client until
 * its last container is removed.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { nanoid } from 'nanoid';
import { randomBytes } from 'node:crypto';
import {
  BadRequest, ProtocolError, SessionExpired, UnknownCommand, errorToWire, decodeFrame, encodeEncodedEvent, encodeFrame, isCommandName,
  isMessageName, type EncodedEvent, type EventName, type Events, type Frame,
} from '../protocol';
import { checkShape } from '../protocol/msgpack-shape';
import type { ManagedContainer } from './managed-container';
import type { ManagedProcess } from './managed-process';
import { TunnelRelay } from './tunnel-relay';
import { dispatchCommand, dispatchMessage } from './handlers';
import type { ImagePreload } from './image-preload';
import type { FileWriter } from './file-transfer';
import { UploadLinks } from './upload-links';
import type { LocationContext } from './location-context';
import type { Limits } from './limits';
import { injectedFault, sessionScope, type FaultScope } from './guard';
import { OutputBatch, isOutputEvent } from './output-batch';

/** Bytes queued on the socket above which producers (stdout, tunnels) pause. */
const CONGESTED_BYTES = 8 * 1024 * 1024;
/** Confirm received client frames after this many, or after CONFIRM_MS, whichever comes first. */
const CONFIRM_EVERY = 64;
const CONFIRM_MS = 500;

interface Kept {
  /** An event's seq; for a reply, the seq of the event before it plus a half. */
  seq: number;
  data: Buffer;
}

export class Session implements FaultScope {
  readonly id = nanoid();
  user = '';
  opened = false;
  readonly containers = new Map<string, ManagedContainer>();
  readonly tunnels: TunnelRelay;
  /** Layer uploads in progress (upload_layer), by transfer id; a cut one is discarded when the session ends. */
  readonly uploads = new Map<string, FileWriter>();
  /** #17: secrets for layer uploads' data connections (upload_layer with `link`). */
  readonly uploadLinks: UploadLinks;
  /** #17: the image upload whose layers are loaded into the nodes as they arrive (image-preload.ts). */
  preload?: ImagePreload;
  private seq = 0;
  /** Output arriving within OUTPUT_BATCH_MS, sent as one event (output-batch.ts). */
  private readonly outputBatch = new OutputBatch((event, params, bulk) =>
    this.sendFrame({ kind: 'event', seq: ++this.seq, event, params, bulk }));
  private congested = false;
  private ending?: Promise<void>;
  private leaveUserChannel?: () => void;
  /** What this socket's client must sign in open_session. */
  readonly nonce = randomBytes(32);

  /** The location's limits (frame caps, queued and replay bytes), read once. */
  private readonly limits: Limits;
  private ws!: WebSocket;
  private releaseSocket = () => {};
  private detached = false;
  /** #20 keep_session: away, it waits for its containers to be removed instead of its client. */
  private keepWithoutClient = false;
  /** #20: processes this session runs in containers of the user's other sessions (tfnz exec), by id. */
  readonly visitingProcesses = new Map<string, ManagedProcess>();
  /** #20: containers of the user's other sessions this session reached (their file transfers are looked up there too). */
  readonly visiting = new Set<ManagedContainer>();
  private handedOver = false;
  private graceTimer?: NodeJS.Timeout;
  private readonly kept: Kept[] = [];
  private keptBytes = 0;
  /** Resuming from before this seq is impossible: frames after it were dropped unacknowledged. */
  private replayFloor = 0;
  /** Frames received from the client on any of its sockets; confirmed to it now and then. */
  private received = 0;
  private confirmedReceived = 0;
  private confirmTimer?: NodeJS.Timeout;

  constructor(
    readonly ctx: LocationContext,
    ws: WebSocket,
    socket: Socket,
    /** Called once open_session or resume_session succeeded on this socket (admission.ts). */
    private readonly admitted: () => void = () => undefined,
  ) {
    this.limits = ctx.limits;
    const reserve = ctx.dataConnections;
    // A data connection's place, counted against this session's address (tunnels and layer uploads alike).
    const reserveHere = reserve && (() => reserve(this.socketPair.socket.remoteAddress ?? ''));
    this.tunnels = new TunnelRelay((event, params, bulk) => this.emit(event, params, bulk), reserveHere, ctx.graceMs);
    this.uploadLinks = new UploadLinks(reserveHere);
    this.attach(ws, socket);
    this.emit('challenge', { nonce: this.nonce });
  }

  /** Take frames from, and send them to, this socket. */
  /** The socket this session reads from (handed to another session by a resume). */
  socketPair!: { ws: WebSocket; socket: Socket };

  private attach(ws: WebSocket, socket: Socket): void {
    this.ws = ws;
    this.socketPair = { ws, socket };
    // Whatever a frame starts runs in this session's scope, so the guard can pin a fault on it.
    const onMessage = (data: Buffer) => sessionScope.run(this, () => void this.onFrame(data));
    const onClose = () => this.socketClosed(ws);
    const onDrain = () => this.updateCongestion();
    const onError = () => undefined; // a broken socket reports itself through 'close'
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    socket.on('drain', onDrain);
    this.releaseSocket = () => {
      ws.off('message', onMessage);
      ws.off('close', onClose);
      socket.off('drain', onDrain);
    };
  }

  /** This (unopened) session's socket now belongs to the session it resumes. */
  handOver(): void {
    this.handedOver = true;
    this.releaseSocket();
    this.ctx.forget(this);
  }

  /**
   * Continue on `from`'s socket (a fresh, unopened session that asked to resume this one): replay
   * what the client has not seen, then carry on. Returns how many client frames arrived, so the
   * client sends again exactly the ones that did not. When this session cannot be resumed, `from`
   * keeps its socket (it can still open a session of its own) and SessionExpired says why.
   */
  resumeFrom(from: Session, lastSeq: number): number {
    if (this.keepWithoutClient && this.detached) throw new SessionExpired('this session was kept without a client (tfnz run -d) and kept no events to replay; reach its containers by uuid or tag, e.g. tfnz ps, tfnz logs');
    if (lastSeq < this.replayFloor) {
      void this.end();
      throw new SessionExpired('too much happened while the connection was down to replay it; the session was ended, connect again');
    }
    from.handOver();
    return this.resume(from.socketPair.ws, from.socketPair.socket, lastSeq);
  }

  private resume(ws: WebSocket, socket: Socket, lastSeq: number): number {
    this.releaseSocket();
    if (this.ws.readyState === this.ws.OPEN) this.ws.terminate(); // a half-dead socket we had not noticed
    clearTimeout(this.graceTimer);
    clearTimeout(this.confirmTimer);
    this.detached = false;
    this.attach(ws, socket);
    for (const k of this.kept) if (k.seq > lastSeq) ws.send(k.data);
    this.updateCongestion();
    return this.received;
  }

  /** The client has every event up to `seq`. */
  acknowledge(seq: number): void {
    while (this.kept.length && this.kept[0].seq <= seq) this.keptBytes -= this.kept.shift()!.data.length;
  }

  private socketClosed(ws: WebSocket): void {
    if (ws !== this.ws || this.ended || this.handedOver) return;
    if (!this.opened) return void this.end();
    if (this.keepWithoutClient) {
      // Nobody will resume it: send nothing, hold no producer (output goes to the log history).
      this.detached = true;
      this.kept.length = 0;
      this.keptBytes = 0;
      return this.endIfEmpty();
    }
    // Wait for the client to come back; meanwhile hold producers (tunnels included: they continue).
    this.detached = true;
    this.setCongested(true);
    this.graceTimer = setTimeout(() => void this.end(), this.ctx.graceMs);
    this.graceTimer.unref();
  }

  emit<E extends EventName>(event: E, params: Events[E], bulk?: Uint8Array): void {
    if (bulk && isOutputEvent(event)) return this.outputBatch.add(event, params as Events[typeof event], bulk);
    this.sendFrame({ kind: 'event', seq: this.takeSeq(), event, params, bulk });
  }

  /** Send an event encoded once for many sessions (preEncodeEvent): only this session's seq is added. */
  emitEncoded(encoded: EncodedEvent): void {
    const seq = this.takeSeq();
    this.sendData(seq, encodeEncodedEvent(seq, encoded));
  }

  /** Ends the session and collects what it made; idempotent. */
  end(): Promise<void> {
    this.ending ??= this.collectGarbage();
    return this.ending;
  }

  /** Its socket dropped and it waits for its client to resume it. */
  get away(): boolean {
    return this.detached;
  }

  /** #20: keep it, once its socket goes, until its last container is removed (keep_session). */
  keepUntilEmpty(): void {
    this.keepWithoutClient = true;
  }

  /** #20: whether keep_session asked to keep it without a client. */
  get keptWithoutClient(): boolean {
    return this.keepWithoutClient;
  }

  /** #20: a kept session without its client ends once it holds no container. */
  endIfEmpty(): void {
    if (this.keepWithoutClient && this.detached && this.containers.size === 0) void this.end();
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** Hear about this user's volumes and tagged containers, whichever session makes or ends them. */
  joinUserChannel(): void {
    this.leaveUserChannel = this.ctx.channels.join(this);
  }

  private async collectGarbage(): Promise<void> {
    clearTimeout(this.graceTimer);
    this.leaveUserChannel?.();
    this.tunnels.closeAll();
    for (const cluster of this.ctx.sites.clustersOf(this.id)) this.ctx.sites.unpublish(cluster);
    for (const upload of [...this.uploads.values()]) upload.cancel();
    this.uploadLinks.close();
    this.preload?.abort();
    await Promise.all([...this.visitingProcesses.values()].map((p) => p.destroy().catch(() => undefined)));
    this.visiting.clear();
    await Promise.all([...this.containers.values()].map((c) => c.destroy().catch(() => undefined)));
    for (const id of this.containers.keys()) this.ctx.containers.delete(id);
    this.containers.clear();
    this.ctx.forget(this);
  }

  /** The guard's call: something this session started threw where nothing caught it. */
  fault(err: unknown): void {
    if (this.ended) return;
    this.emit('error', { error: errorToWire(new ProtocolError(`the location hit an internal fault in this session and ended it: ${err instanceof Error ? err.message : String(err)}`)) });
    void this.end().finally(() => this.ws.close(1011, 'internal fault; the session was ended'));
  }

  private async onFrame(data: Buffer): Promise<void> {
    let frame: Frame;
    try {
      // Before the session is open ws already refuses large frames; this is the check's backstop.
      const cap = this.opened ? this.limits.frameBytes : this.limits.preAuthFrameBytes;
      if (data.length > cap) throw new ProtocolError(`frame of ${data.length} bytes is over this session's cap of ${cap}`);
      checkShape(data); // bounded decoding work: no frame of a million empty maps
      frame = decodeFrame(data);
    } catch (err) {
      this.countReceived(false);
      this.emit('error', { error: errorToWire(err) });
      return;
    }
    this.countReceived(frame.kind === 'request' && frame.id === 0 && frame.command === 'ack');
    if (frame.kind !== 'request') {
      this.emit('error', { error: errorToWire(new ProtocolError(`clients send requests, not ${frame.kind} frames`)) });
      return;
    }
    if (frame.id === 0) return this.onMessage(frame.command, frame.params, frame.bulk);
    try {
      const result = await this.runCommand(frame.command, frame.params);
      if (frame.command === 'open_session' || frame.command === 'resume_session') this.admitted();
      this.sendReply({ kind: 'reply', id: frame.id, result });
    } catch (err) {
      this.sendReply({ kind: 'reply', id: frame.id, error: errorToWire(err) });
    }
  }

  private async runCommand(command: string, rawParams: unknown): Promise<unknown> {
    const fault = this.opened ? injectedFault(command, rawParams) : undefined;
    if (fault) return fault();
    if (!isCommandName(command)) throw new UnknownCommand(`unknown command '${command}'`);
    if (this.ended) throw new BadRequest('this session has ended');
    if (!this.opened && command !== 'open_session' && command !== 'resume_session') throw new BadRequest('send open_session first');
    return dispatchCommand(this, command, rawParams);
  }

  private onMessage(name: string, rawParams: unknown, bulk: Uint8Array | undefined): void {
    try {
      if (!isMessageName(name)) throw new UnknownCommand(`unknown message '${name}'`);
      if (!this.opened) throw new BadRequest('send open_session first');
      dispatchMessage(this, name, rawParams, bulk ?? new Uint8Array(0));
    } catch (err) {
      this.emit('error', { error: errorToWire(err), about: name });
    }
  }

  /**
   * The next event's seq. Batched output goes first, with the seq before it: every frame but
   * batched output goes after the output batched before it.
   */
  private takeSeq(): number {
    this.outputBatch.flush();
    return ++this.seq;
  }

  /** A reply, after the output batched before it. */
  private sendReply(frame: Frame): void {
    this.outputBatch.flush();
    this.sendFrame(frame);
  }

  private sendFrame(frame: Frame): void {
    this.sendData(frame.kind === 'event' ? frame.seq : this.seq + 0.5, encodeFrame(frame));
  }

  /** Keep an encoded frame for replay (`seq` as in Kept), then send it if the socket is up. */
  private sendData(seq: number, data: Buffer): void {
    if (this.opened && !this.handedOver) this.keep(seq, data);
    if (this.detached || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(data);
    // A client that stopped reading: drop its socket rather than queue without end (it may resume).
    if (this.ws.bufferedAmount > this.limits.queuedBytes) return void this.ws.terminate();
    if (!this.congested && this.ws.bufferedAmount > CONGESTED_BYTES) this.updateCongestion();
  }

  /**
   * Count a client frame, confirming the count soon (so the client can forget its copies). A
   * frame that is only an ack is confirmed with the next other frame or after CONFIRM_EVERY: the
   * client acks every event within ACK_EVERY_MS, so confirming each ack at once sent one more
   * frame to every session per event (a node's stats tick to 1 000 sessions came back as 1 000
   * confirmations half a second later, issue #17). Its copies of acks are tiny and bounded.
   */
  private countReceived(ackOnly: boolean): void {
    this.received++;
    if (this.received - this.confirmedReceived >= CONFIRM_EVERY) return this.confirmReceived();
    if (!ackOnly) this.confirmTimer ??= setTimeout(() => this.confirmReceived(), CONFIRM_MS).unref();
  }

  private confirmReceived(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    if (!this.opened || this.received === this.confirmedReceived) return;
    this.confirmedReceived = this.received;
    this.emit('received', { count: this.received });
  }

  private keep(seq: number, data: Buffer): void {
    if (this.keepWithoutClient && this.detached) return; // nobody resumes a kept session
    this.kept.push({ seq, data });
    this.keptBytes += data.length;
    while (this.keptBytes > this.limits.replayBytes && this.kept.length > 1) {
      const dropped = this.kept.shift()!;
      this.keptBytes -= dropped.data.length;
      this.replayFloor = Math.max(this.replayFloor, dropped.seq);
    }
  }

  /** Pause every producer while the socket is backed up; resume when it drains. */
  private updateCongestion(): void {
    this.setCongested(this.detached || this.ws.bufferedAmount > CONGESTED_BYTES);
  }

  private setCongested(congested: boolean): void {
    if (congested === this.congested) return;
    this.congested = congested;
    this.tunnels.setCongested(congested);
    for (const c of this.containers.values()) congested ? c.pauseOutput() : c.resumeOutput();
  }
}
