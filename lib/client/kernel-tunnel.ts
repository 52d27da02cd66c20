/**
 * One direct tunnel handed to the kernel (kernel-forward.ts) once its container's port answers.
 * The tunnel's own listener (the direct relay) keeps the port reserved and serves every connection
 * the kernel does not take: until a connection first reaches the container (so one made while the
 * container opens its port waits and retries, as on every path), and whenever the container is
 * not running (so it gets ConnectFailed or ContainerNotRunning). The relay's first connection to
 * reach the container is the sign, not a probe of ours: the container sees no connection the user
 * did not make. It follows the container: a change (a restart, a new address) takes the rules
 * out, and the next connection to reach it puts them back.
 */
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

export class KernelTunnel {
  private subscription?: Subscription;
  private target?: RelayTarget;
  /** Bumped at every change of target and at close: rules on their way in for an older one go again. */
  private generation = 0;
  /** Where the rules send connections now, or are on their way to. */
  private forwardingTo?: string;
  /** The rules are in for the current target (and `kernel` was said). */
  private forwarded = false;
  private closed = false;

  constructor(
    private readonly forwards: Pick<KernelForwards, 'forward' | 'remove'>,
    private readonly spec: KernelTunnelSpec,
    private readonly onPath: (path: DirectPath, why?: string) => void,
  ) {}

  /** Follow the container: every change takes the rules out until a connection reaches it again. */
  start(target$: Observable<RelayTarget>): void {
    this.subscription = target$.subscribe((target) => {
      const before = this.target;
      this.target = target;
      if (!before) return;
      this.generation++;
      if (this.forwardingTo === undefined) return;
      this.forwardingTo = undefined;
      void this.forwards.remove(this.spec.tunnel, false);
      if (!this.forwarded) return;
      this.forwarded = false;
      const ip = target.status === 'running' ? target.privateIp : undefined;
      this.onPath('direct', ip ? `container ${target.id} changed; the kernel takes over again once a connection reaches it` : `container ${target.id} is ${target.status}`);
    });
  }

  /** A relayed connection reached the container at `ip`: the kernel may take the next ones. */
  reached(ip: string): void {
    const target = this.target;
    if (this.closed || this.forwardingTo !== undefined || target?.status !== 'running' || target.privateIp !== ip) return;
    this.forwardingTo = ip;
    const generation = this.generation;
    const current = () => generation === this.generation && !this.closed;
    const { tunnel, bind, localPort, port } = this.spec;
    this.forwards.forward(tunnel, bind, localPort, ip, port, current).then(
      (installed) => {
        if (!installed || !current()) return;
        this.forwarded = true;
        this.onPath('kernel');
      },
      (err: Error) => {
        // Not again for this container: the relay serves it.
        if (current()) this.onPath('direct', `the kernel cannot forward it: ${err.message}`);
        void this.forwards.remove(tunnel, false);
      },
    );
  }

  /** Stop following and remove the rules (aborting the connections they carry). */
  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.subscription?.unsubscribe();
    await this.forwards.remove(this.spec.tunnel, true);
  }
}
