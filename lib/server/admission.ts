/**
 * What a socket may do before its session is open (finding 3 of issue 13): anyone who can reach the
 * port gets here, so until open_session/resume_session succeeds a socket has a small frame cap
 * (enforced by ws while reading, before anything is buffered or decoded), a deadline, and a place
 * under two caps: sockets not yet open in all, and sockets per remote address.
 */
import type { WebSocket } from 'ws';
import type { Limits } from './limits';

/** Close codes (RFC 6455 §7.4): 1008 policy violation, 1013 try again later. */
const POLICY = 1008;
const TRY_LATER = 1013;

export class Admission {
  private readonly perAddress = new Map<string, number>();
  /** Tunnel data connections by remote address (reserve). */
  private readonly dataPerAddress = new Map<string, number>();
  private pending = 0;

  constructor(
    private readonly limits: Limits,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Take a new socket in, or close it when a cap is reached (then returns undefined). The returned
   * function is called once its session is open: the socket gets the larger frame cap.
   */
  admit(ws: WebSocket, address: string): (() => void) | undefined {
    const fromAddress = this.perAddress.get(address) ?? 0;
    const refusal = fromAddress >= this.limits.connectionsPerAddress
      ? `too many connections from ${address} (${this.limits.connectionsPerAddress}; the location's --connections-per-address raises it)`
      : this.pending >= this.limits.unauthenticatedSockets
        ? `too many connections waiting to open a session (${this.limits.unauthenticatedSockets}); try again shortly`
        : undefined;
    if (refusal) {
      this.log(`refused a connection from ${address}: ${refusal}`);
      ws.close(TRY_LATER, refusal.slice(0, 120)); // a close reason is at most 123 bytes
      return undefined;
    }
    this.perAddress.set(address, fromAddress + 1);
    this.pending++;
    setFrameCap(ws, this.limits.preAuthFrameBytes);
    let opened = false;
    const deadline = setTimeout(() => {
      this.log(`closed a connection from ${address}: no session opened within ${this.limits.openDeadlineMs} ms`);
      ws.close(POLICY, 'send open_session (or resume_session) first, promptly');
      // A peer that does not answer the close handshake goes anyway.
      setTimeout(() => ws.terminate(), 2000).unref();
    }, this.limits.openDeadlineMs);
    deadline.unref();
    ws.once('close', () => {
      clearTimeout(deadline);
      if (!opened) this.pending--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    return () => {
      if (opened) return;
      opened = true;
      clearTimeout(deadline);
      this.pending--;
      setFrameCap(ws, this.limits.frameBytes);
    };
  }

  /** Tunnel data connections open (or reserved by tunnel_link), from all addresses. */
  get dataConnections(): number {
    let count = 0;
    for (const n of this.dataPerAddress.values()) count += n;
    return count;
  }

  /**
   * A tunnel's data connection from `address` (data-connections.ts): at most connectionsPerAddress
   * of them per address, counted apart from the sessions' sockets so that tunnels can never use up
   * the room a session needs to resume. Returns the release, or undefined at the cap (the tunnel
   * connection then rides the WebSocket).
   */
  reserve(address: string): (() => void) | undefined {
    const fromAddress = this.dataPerAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.connectionsPerAddress) return undefined;
    this.dataPerAddress.set(address, fromAddress + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.dataPerAddress.get(address) ?? 1) - 1;
      if (left > 0) this.dataPerAddress.set(address, left);
      else this.dataPerAddress.delete(address);
    };
  }
}

/**
 * ws takes its frame cap per server (`maxPayload`) and keeps it per socket in its receiver, which
 * checks each frame's announced length before buffering it. Setting that per socket is the only way
 * to refuse a large frame from a stranger without reading it; without the receiver (another ws
 * version) Session's check before decoding still applies.
 */
function setFrameCap(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
}
