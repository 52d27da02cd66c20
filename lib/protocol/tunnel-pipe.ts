/**
 * One end of a tunnelled TCP connection, shared by the SDK (local socket) and the location
 * (socket to the container). Bytes cross the WebSocket under a credit window (credit-window.ts):
 * a side sends at most TUNNEL_WINDOW bytes the other has not yet written to its socket, so a slow
 * reader makes the sender pause its socket instead of buffering without bound.
 */
import type { Socket } from 'node:net';
import { AckBatcher, CreditWindow } from './credit-window';

export const TUNNEL_WINDOW = 4 * 1024 * 1024;
/** Acks are batched: one message per this many bytes written, or per turn of the event loop. */
const ACK_BATCH = TUNNEL_WINDOW / 8;
/** How long a closed connection may take to hand its last bytes to a slow reader. */
const FLUSH_BEFORE_CLOSE_MS = 30_000;

/** How this end talks to the far end (over the session's WebSocket). */
export interface PipePeer {
  data(chunk: Uint8Array): void;
  ack(bytes: number): void;
  end(): void;
  close(): void;
}

export class TunnelPipe {
  private socket?: Socket;
  /** Peer data that arrived before the socket was attached (the connect is still in progress). */
  private pending: Uint8Array[] = [];
  private peerEnded = false;
  /** What we may still send before the far end acknowledges some. */
  private readonly window = new CreditWindow(TUNNEL_WINDOW);
  /** Acknowledges to the far end what we wrote to our socket. */
  private readonly acks: AckBatcher;
  private closed = false;
  /** The session's WebSocket is backed up: hold reads while it is. */
  private congested = false;

  constructor(
    private readonly peer: PipePeer,
    private readonly onClosed: () => void,
  ) {
    this.acks = new AckBatcher((bytes) => peer.ack(bytes), ACK_BATCH, true);
  }

  /** Start relaying with `socket` (already connected, or connecting: writes queue meanwhile). */
  attach(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.peer.data(chunk);
      this.window.spend(chunk.length);
      this.updateFlow();
    });
    socket.on('end', () => this.peer.end());
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    for (const chunk of this.pending) this.write(chunk);
    this.pending = [];
    if (this.peerEnded) socket.end();
    this.updateFlow();
  }

  /** Bytes from the far end. */
  fromPeer(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.socket) this.write(chunk);
    else this.pending.push(chunk);
  }

  /** The far end wrote `bytes` of ours to its socket. */
  ackFromPeer(bytes: number): void {
    this.window.grant(bytes);
    this.updateFlow();
  }

  /** The far end will send no more. */
  endFromPeer(): void {
    this.peerEnded = true;
    this.socket?.end();
  }

  /** The session's WebSocket is (or is no longer) backed up: hold reads while it is. */
  setCongested(congested: boolean): void {
    this.congested = congested;
    this.updateFlow();
  }

  /** Tear down both directions; tells the far end unless it asked for this. */
  close(fromPeer = false): void {
    if (this.closed) return;
    this.closed = true;
    this.acks.stop();
    this.pending = [];
    const socket = this.socket;
    if (fromPeer && this.peerEnded && socket && !socket.destroyed) {
      // The far end finished sending, then closed: the end of what it sent may still wait in our
      // socket's buffer for a slow reader, and destroy() would drop it. Flush, then tear down.
      socket.pause();
      const stop = setTimeout(() => socket.destroy(), FLUSH_BEFORE_CLOSE_MS).unref();
      socket.end(() => {
        clearTimeout(stop);
        socket.destroy();
      });
    } else {
      socket?.destroy();
    }
    if (!fromPeer) this.peer.close();
    this.onClosed();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private write(chunk: Uint8Array): void {
    const bytes = chunk.length;
    this.socket!.write(chunk, (err) => {
      if (!err) this.acks.took(bytes);
    });
  }

  private updateFlow(): void {
    const socket = this.socket;
    if (!socket || this.closed) return;
    const hold = !this.window.allows() || this.congested;
    if (hold && !socket.isPaused()) socket.pause();
    else if (!hold && socket.isPaused()) socket.resume();
  }
}
