import { expect } from 'chai';
import { BehaviorSubject } from 'rxjs';
import { KernelTunnel, type DirectPath } from '../../lib/client/kernel-tunnel';
import type { RelayTarget } from '../../lib/client/direct-relay-messages';

/**
 * When a kernel tunnel's rules go in and out (kernel-tunnel.ts), against a packet filter that
 * records what it is asked and answers when the spec says: the rules follow the container, also
 * when it changes while they are on their way in.
 */
class FakeForwards {
  readonly calls: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Each forward waits for its own `release` (in call order), as iptables takes its time. */
  readonly pending: (() => void)[] = [];

  forward(_tunnel: string, _bind: string, _localPort: number, ip: string, _port: number, wanted: () => boolean = () => true): Promise<boolean> {
    return this.serial(async () => {
      await new Promise<void>((resolve) => this.pending.push(resolve));
      if (!wanted()) return false;
      this.calls.push(`forward ${ip}`);
      return true;
    });
  }

  remove(_tunnel: string, cut: boolean): Promise<void> {
    return this.serial(async () => void this.calls.push(cut ? 'remove and cut' : 'remove'));
  }

  async settle(): Promise<void> {
    await this.queue;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

const running = (privateIp: string): RelayTarget => ({ id: 'c1', status: 'running', privateIp });
const flush = () => new Promise((r) => setImmediate(r));

describe('kernel tunnel: rules follow the container (pure)', () => {
  let forwards: FakeForwards;
  let target$: BehaviorSubject<RelayTarget>;
  let paths: DirectPath[];
  let tunnel: KernelTunnel;

  beforeEach(() => {
    forwards = new FakeForwards();
    target$ = new BehaviorSubject<RelayTarget>(running('10.0.0.2'));
    paths = [];
    tunnel = new KernelTunnel(forwards, { tunnel: 't1', bind: '127.0.0.1', localPort: 40000, port: 80 }, (p) => paths.push(p));
    tunnel.start(target$);
  });

  it('puts the rules in once a connection reached the container, and only once', async () => {
    tunnel.reached('10.0.0.2');
    tunnel.reached('10.0.0.2');
    await flush();
    forwards.pending.forEach((release) => release());
    await forwards.settle();
    await flush();
    expect(forwards.calls).to.deep.equal(['forward 10.0.0.2']);
    expect(paths).to.deep.equal(['kernel']);
  });

  it('ignores a connection that reached an address the container no longer has', async () => {
    target$.next(running('10.0.0.3'));
    tunnel.reached('10.0.0.2');
    await forwards.settle();
    expect(forwards.calls).to.deep.equal([]);
    expect(forwards.pending).to.have.length(0);
  });

  it('takes the rules out (without cutting) when the container stops, and puts them back for its next address', async () => {
    tunnel.reached('10.0.0.2');
    await flush();
    forwards.pending[0]();
    await forwards.settle();
    await flush();
    target$.next({ id: 'c1', status: 'spawning' });
    target$.next(running('10.0.0.3'));
    tunnel.reached('10.0.0.3');
    await flush();
    forwards.pending[1]();
    await forwards.settle();
    await flush();
    expect(forwards.calls).to.deep.equal(['forward 10.0.0.2', 'remove', 'forward 10.0.0.3']);
    expect(paths).to.deep.equal(['kernel', 'direct', 'kernel']);
  });

  it('does not leave rules in for a container that changed while they were on their way in', async () => {
    tunnel.reached('10.0.0.2');
    await flush();
    target$.next({ id: 'c1', status: 'exited', privateIp: '10.0.0.2' });
    forwards.pending[0]();
    await forwards.settle();
    await flush();
    // The forward found itself unwanted by its turn; the change's removal followed it.
    expect(forwards.calls).to.deep.equal(['remove']);
    expect(paths).to.deep.equal([]);
  });

  it('cuts the connections when the tunnel closes, and ignores what reaches it after', async () => {
    await tunnel.close();
    tunnel.reached('10.0.0.2');
    await forwards.settle();
    expect(forwards.calls).to.deep.equal(['remove and cut']);
    expect(paths).to.deep.equal([]);
  });
});
