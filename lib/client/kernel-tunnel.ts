/**
 * One direct tunnel handed to the kernel (kernel-forward.ts) while its container's port answers.
 * The tunnel's own listener (the direct relay) keeps the port reserved and serves every connection
 * the kernel does not take: before the port first answers (so a connection made while the
 * container opens it waits and retries, as on every path), and whenever the container is not
 * running (so it gets ConnectFailed or ContainerNotRunning). It follows the container: a new
 * address (a restart) replaces the rules once the port answers there; a container that stops
 * loses them.
 */
import { connect } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import type { KernelForwards } from './kernel-forward';
import type { RelayTarget } from './direct-relay-messages';

/** How a direct tunnel's connections travel now. */
export type DirectPath = 'kernel' | 'direct';

export interface KernelTunnelSpec {
  tunnel: string;
  bind: string;
  localPort: number;
  /** The container's port. */
  port: number;
}

/** Longest wait between two looks at a port that does not answer yet. */
const PROBE_MAX_DELAY_MS = 2000;
/** How long one look at the port may take. */
const PROBE_TIMEOUT_MS = 1000;

export class KernelTunnel {
  private subscription?: Subscription;
  /** Bumped at every change of target and at close: a look that started before stops. */
  private generation = 0;
  private forwardedTo?: string;
  private closed = false;

  constructor(
    private readonly forwards: KernelForwards,
    private readonly spec: KernelTunnelSpec,
    private readonly onPath: (path: DirectPath, why?: string) => void,
  ) {}

  /**
   * Follow `target$`. Resolves once the first target was looked at: if its port answers, the rules
   * are in before this resolves, so the tunnel's first connection takes the kernel's path.
   */
  start(target$: Observable<RelayTarget>): Promise<void> {
    let first: Promise<void> | undefined;
    this.subscription = target$.subscribe((target) => {
      const done = this.follow(target);
      first ??= done;
    });
    return first ?? Promise.resolve();
  }

  /** Stop following and remove the rules (aborting the connections they carry). */
  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.subscription?.unsubscribe();
    await this.forwards.remove(this.spec.tunnel);
  }

  /** Resolves after the first look at `target`'s port (and the rules, if it answered). */
  private follow(target: RelayTarget): Promise<void> {
    const generation = ++this.generation;
    const ip = target.status === 'running' ? target.privateIp : undefined;
    if (ip && ip === this.forwardedTo) return Promise.resolve();
    const current = () => generation === this.generation && !this.closed;
    let firstLook: () => void = () => undefined;
    const looked = new Promise<void>((resolve) => (firstLook = resolve));
    void (async () => {
      // Also takes out what an older look is putting in: the forwards run in call order.
      const was = this.forwardedTo;
      this.forwardedTo = undefined;
      await this.forwards.remove(this.spec.tunnel);
      if (was !== undefined) this.onPath('direct', ip ? `container moved to ${ip}` : `container is ${target.status}`);
      if (!ip) return;
      let delay = 50;
      while (current()) {
        if (await answers(ip, this.spec.port)) {
          let installed: boolean;
          try {
            installed = await this.forwards.forward(this.spec.tunnel, this.spec.bind, this.spec.localPort, ip, this.spec.port, current);
          } catch (err) {
            this.onPath('direct', `the kernel cannot forward it: ${(err as Error).message}`);
            break;
          }
          if (installed && current()) {
            this.forwardedTo = ip;
            this.onPath('kernel');
          }
          break;
        }
        firstLook();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, PROBE_MAX_DELAY_MS);
      }
    })().finally(() => firstLook());
    return looked;
  }
}

/** Whether something accepts a TCP connection on `ip`:`port` now (the connection is closed at once). */
function answers(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: PROBE_TIMEOUT_MS });
    const done = (yes: boolean) => (socket.destroy(), resolve(yes));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
