/**
 * One end of a tunnel connection whose bytes take a data connection of their own (a TCP
 * connection to the location's port, upgraded, see docs/protocol.md) instead of the session's
 * WebSocket; shared by the SDK (its local socket) and the location (its socket to the container).
 * Bytes go raw, with no framing. What keeps them exactly-once when a data connection breaks:
 * - each end counts the bytes it read from data connections and acknowledges them over the
 *   control socket (tunnel_ack, batched);
 * - each end keeps what it sent and the other has not acknowledged, at most REPLAY_BYTES (then it
 *   stops reading its socket: memory stays bounded), and a new data connection starts with the
 *   other end's count: each end sends again from there;
 * - the end of a direction is a count (tunnel_end's `bytes`), never the data connection's FIN,
 *   which a broken connection cannot tell from a real one.
 */
import type { Socket } from 'node:net';
import { AckBatcher } from './credit-window';

/** Sent and not yet acknowledged bytes one direction keeps for a replay. */
export const REPLAY_BYTES = 8 * 1024 * 1024;
const ACK_BATCH = REPLAY_BYTES / 8;
/**
 * Acks only free the sender's replay buffer (TCP paces the bytes), so small amounts wait this long
 * to share one message: a request and its answer cost no control frames of their own.
 */
const ACK_DELAY_MS = 20;
/** How long a closed end waits for its last bytes to be acknowledged or written to a slow reader. */
const FLUSH_BEFORE_CLOSE_MS = 30_000;

/** What this end tells the other over the session's control socket. */
export interface DataPipePeer {
  /** Received `bytes` more from data connections. */
  ack(bytes: number): void;
  /** Our socket ended after `total` bytes. */
  end(total: number): void;
  /** Our socket is gone. */
  close(): void;
}

export class DataPipe {
  private local?: Socket;
  private link?: Socket;
  /** Sent, unacknowledged bytes, oldest first: they start at `acked`. */
  private readonly replay: Buffer[] = [];
  private replayBytes = 0;
  private sent = 0;
  private acked = 0;
  /**
   * The sum of the other end's tunnel_acks: its count when it sent the last one. A new data
   * connection's handshake may tell a newer count first, so acks never move `acked` by themselves.
   */
  private ackedByAcks = 0;
  private received = 0;
  /** The other end's socket ended after this many bytes. */
  private peerTotal?: number;
  private localWriteEnded = false;
  /** Our socket closed or the other end's did: no new bytes are read from ours. */
  private closing = false;
  private closedByPeer = false;
  private finished = false;
  private waitingForDrain = false;
  private lingerTimer?: NodeJS.Timeout;
  private readonly acks: AckBatcher;

  constructor(
    private readonly peer: DataPipePeer,
    /** Called once when the pipe is done (both sockets gone). */
    private readonly onFinished: () => void,
    /** Called when the data connection broke before the pipe was done: dial again, or wait for it. */
    private readonly onLinkLost: () => void = () => undefined,
  ) {
    this.acks = new AckBatcher((bytes) => peer.ack(bytes), ACK_BATCH, ACK_DELAY_MS);
  }

  /** Bytes received so far: what a new data connection tells the other end. */
  get receivedBytes(): number {
    return this.received;
  }

  /** Done: both sockets are gone. */
  get isClosed(): boolean {
    return this.finished;
  }

  /** Our socket or the other end's is gone; what was sent is still being delivered. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Relay `socket` (ours: the local connection, or the container's). */
  attachLocal(socket: Socket): void {
    if (this.finished) return void socket.destroy();
    this.local = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.fromLocal(chunk));
    socket.on('end', () => this.peer.end(this.sent));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.localClosed());
    this.link?.resume();
    this.checkPeerEnd();
  }

  /**
   * Carry on over `link`, a fresh data connection on which the other end said it has received
   * `peerReceived` bytes: what it lacks of ours goes again. False (and `link` destroyed) when that
   * count is impossible.
   */
  attachLink(link: Socket, peerReceived: number): boolean {
    if (this.finished || peerReceived < this.acked || peerReceived > this.sent) {
      link.destroy();
      return false;
    }
    this.dropLink();
    this.ackTo(peerReceived);
    this.link = link;
    link.setNoDelay(true);
    link.on('data', (chunk: Buffer) => this.fromLink(chunk));
    link.on('error', () => undefined);
    link.on('close', () => this.linkClosed(link));
    for (const chunk of this.replay) link.write(chunk);
    if (!this.local || this.waitingForDrain) link.pause();
    return true;
  }

  /** The other end received `bytes` more of ours. */
  ackFromPeer(bytes: number): void {
    this.ackedByAcks += bytes;
    this.ackTo(this.ackedByAcks);
    if (this.local?.isPaused() && !this.closing && this.replayBytes < REPLAY_BYTES) this.local.resume();
    if (this.closing && !this.closedByPeer && this.replayBytes === 0) this.finish();
  }

  /** The other end's socket ended after `total` bytes. */
  endFromPeer(total?: number): void {
    this.peerTotal = total ?? this.received;
    this.checkPeerEnd();
  }

  /**
   * From the other end (`fromPeer`): its socket is gone; ours gets every byte it sent first (when it
   * ended cleanly), then closes. Otherwise (tunnel or session destroyed): both sockets go now.
   */
  close(fromPeer = false): void {
    if (this.finished) return;
    if (!fromPeer) {
      this.peer.close();
      return this.finish();
    }
    this.closedByPeer = true;
    if (this.closing || this.peerTotal === undefined || !this.local || this.local.destroyed) return this.finish();
    this.closing = true;
    this.local.pause();
    this.lingerTimer = setTimeout(() => this.finish(), FLUSH_BEFORE_CLOSE_MS).unref();
    this.checkPeerEnd();
  }

  private fromLocal(chunk: Buffer): void {
    this.replay.push(chunk);
    this.replayBytes += chunk.length;
    this.sent += chunk.length;
    this.link?.write(chunk);
    if (this.replayBytes >= REPLAY_BYTES) this.local!.pause();
  }

  private fromLink(chunk: Buffer): void {
    this.received += chunk.length;
    this.acks.took(chunk.length);
    const local = this.local;
    if (!local || local.destroyed || this.localWriteEnded) return;
    if (!local.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.link?.pause();
      local.once('drain', () => {
        this.waitingForDrain = false;
        this.link?.resume();
      });
    }
    this.checkPeerEnd();
  }

  /** Once all the other end sent has arrived: end our socket (and finish, when it closed). */
  private checkPeerEnd(): void {
    const local = this.local;
    if (this.peerTotal === undefined || this.received < this.peerTotal || !local || this.localWriteEnded) return;
    this.localWriteEnded = true;
    if (!this.closedByPeer) return void local.end();
    this.acks.flush();
    local.end(() => this.finish());
  }

  /** Our socket closed: the other end hears it; we stay until it has every byte we sent. */
  private localClosed(): void {
    if (this.finished) return;
    if (this.closedByPeer) return this.finish();
    this.closing = true;
    this.acks.flush();
    this.peer.close();
    if (this.replayBytes === 0) return this.finish();
    this.lingerTimer = setTimeout(() => this.finish(), FLUSH_BEFORE_CLOSE_MS).unref();
  }

  private linkClosed(link: Socket): void {
    if (link !== this.link) return;
    this.link = undefined;
    if (!this.finished) this.onLinkLost();
  }

  private dropLink(): void {
    const old = this.link;
    this.link = undefined;
    old?.destroy();
  }

  private ackTo(count: number): void {
    if (count <= this.acked) return;
    let drop = Math.min(count, this.sent) - this.acked;
    while (drop > 0) {
      const head = this.replay[0];
      if (head.length <= drop) {
        this.replay.shift();
        drop -= head.length;
        this.acked += head.length;
        this.replayBytes -= head.length;
      } else {
        this.replay[0] = head.subarray(drop);
        this.acked += drop;
        this.replayBytes -= drop;
        drop = 0;
      }
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.lingerTimer);
    // The other end may still be closing, keeping its bytes until we acknowledge them: a batched
    // ack dropped here would hold it (and its connection slot) for FLUSH_BEFORE_CLOSE_MS.
    this.acks.flush();
    this.acks.stop();
    this.replay.length = 0;
    this.replayBytes = 0;
    const local = this.local;
    if (local && !local.destroyed) {
      // Bytes already handed to a slow reader still reach it; then the socket goes.
      if (this.localWriteEnded && local.writableLength > 0) {
        const stop = setTimeout(() => local.destroy(), FLUSH_BEFORE_CLOSE_MS).unref();
        local.once('finish', () => (clearTimeout(stop), local.destroy()));
      } else local.destroy();
    }
    this.dropLink();
    this.onFinished();
  }
}
