/**
 * The one flow control of tunnels, file transfers and image uploads, used at both ends: a sender
 * has at most a window of bytes in flight that the receiver has not yet taken (CreditWindow), and
 * the receiver says what it took, in batches (AckBatcher). So a slow reader makes the sender wait
 * instead of buffering without bound, and control messages never queue behind more than a window.
 * The wire messages stay each feature's own (tunnel_ack, file_ack).
 */

/** The sender's side: how many more bytes may go out before the receiver acknowledges some. */
export class CreditWindow {
  private credit: number;
  private waiters: (() => void)[] = [];

  /** `initial` bytes may go out at once; grants never raise the credit above `max`. */
  constructor(initial: number, private readonly max = Number.POSITIVE_INFINITY) {
    this.credit = initial;
  }

  get available(): number {
    return this.credit;
  }

  /** True when `bytes` fit in the credit; with no `bytes`, when any credit is left (the last piece may overdraw it). */
  allows(bytes = 0): boolean {
    return bytes === 0 ? this.credit > 0 : this.credit >= bytes;
  }

  spend(bytes: number): void {
    this.credit -= bytes;
  }

  /** The receiver took `bytes`: they may go out again. */
  grant(bytes: number): void {
    this.credit = Math.min(this.credit + bytes, this.max);
    this.wake();
  }

  /** Resolves once `ready()` holds, checked again after each grant or `wake()`. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Something else that `until` waits on changed (paused, cancelled, finished): check again. */
  wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/**
 * The receiver's side: bytes taken are acknowledged in one message per `batch` bytes; with
 * `flushSoon`, also whatever is left at the next turn of the event loop (a tunnel's small writes),
 * or, when it is a number, that many milliseconds later (acks that only free a replay buffer).
 */
export class AckBatcher {
  private unacked = 0;
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly send: (bytes: number) => void,
    private readonly batch: number,
    private readonly flushSoon: boolean | number = false,
  ) {}

  took(bytes: number): void {
    if (this.stopped) return;
    this.unacked += bytes;
    if (this.unacked >= this.batch) return this.flush();
    if (this.flushSoon === false || this.scheduled) return;
    this.scheduled = true;
    const later = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.flushSoon === true) setImmediate(later);
    else setTimeout(later, this.flushSoon).unref();
  }

  flush(): void {
    if (this.stopped || this.unacked === 0) return;
    const bytes = this.unacked;
    this.unacked = 0;
    this.send(bytes);
  }

  /** The stream is over: acknowledge nothing more. */
  stop(): void {
    this.stopped = true;
  }
}
