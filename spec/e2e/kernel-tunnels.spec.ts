import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { Location, type Container, type Tunnel } from '../../lib/index';
import { KernelForwards } from '../../lib/client/kernel-forward';
import { echoServer, exchange } from '../support/net';

/**
 * Embedded tunnels forwarded by the kernel (lib/client/kernel-forward.ts): the specs run as root
 * beside a local Docker Engine, so every loopback tunnel whose container's port answers gets a
 * DNAT rule; what the rules are, when they come and go, and what happens to connections.
 * tunnel-paths.spec.ts runs the promises every tunnel path keeps on this one too.
 */
describe('tunnels forwarded by the kernel (embedded location, real Docker Engine)', function () {
  this.timeout(120_000);
  let loc: Location;
  let echo: Container;

  before(async () => {
    loc = await Location.connect({ quiet: true });
    echo = loc.node().spawnContainer('busybox', { command: echoServer(9000) });
    await echo.waitTcp(9000);
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('hands a tunnel to the kernel once a connection reaches the container, with rules naming the tunnel and the process, removed when it closes', async () => {
    const tunnel = await echo.attachTunnel(9000);
    expect(tunnel.path).to.equal('direct');
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    const kernel = firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel')));
    const first = await exchange(tunnel.localPort, Buffer.from('relayed first'));
    expect(first.toString()).to.equal('relayed first');
    await kernel;
    const [dnat, masquerade] = [rulesOf(tunnel, 'OUTPUT'), rulesOf(tunnel, 'POSTROUTING')];
    expect(dnat).to.have.length(1);
    expect(dnat[0]).to.contain(`--dport ${tunnel.localPort}`).and.contain(`--to-destination ${echo.privateIp}:9000`);
    expect(packets(dnat[0])).to.equal(0);
    expect(masquerade).to.have.length(1);
    expect(masquerade[0]).to.contain(`-d ${echo.privateIp}/32`).and.contain('-j MASQUERADE');

    const back = await exchange(tunnel.localPort, Buffer.from('through the kernel'));
    expect(back.toString()).to.equal('through the kernel');
    expect(packets(rulesOf(tunnel, 'OUTPUT')[0]), 'connections the DNAT rule rewrote').to.be.greaterThan(0);

    await echo.destroyTunnel(tunnel);
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    expect(rulesOf(tunnel, 'POSTROUTING')).to.deep.equal([]);
  });

  it('makes no connection to the container the user did not make (a server that takes only one still serves it)', async () => {
    const once = loc.node().spawnContainer('busybox', { command: ['nc', '-l', '-p', '9000', '-e', 'cat'] });
    await once.running();
    const tunnel = await once.attachTunnel(9000, { timeout: 20 });
    const back = await exchange(tunnel.localPort, Buffer.from('the only one'));
    expect(back.toString()).to.equal('the only one');
    await loc.node().destroyContainer(once);
  });

  it('cuts the connections the kernel forwarded when the tunnel closes', async () => {
    const tunnel = await kernelTunnel(echo, 9000);
    const socket = await echoedConnection(tunnel.localPort);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await echo.destroyTunnel(tunnel);
    await closed;
    expect(socket.destroyed).to.equal(true);
  });

  it('relays connections in this process until the port first answers, then hands the tunnel to the kernel', async () => {
    const late = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'sleep 2; exec nc -ll -p 9000 -e cat'] });
    const tunnel = await late.attachTunnel(9000, { timeout: 20 });
    expect(tunnel.path).to.equal('direct');
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    const kernel = firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel')));
    // Made while nothing listens: the relay retries it until the container's port opens.
    const early = await exchange(tunnel.localPort, Buffer.from('early'));
    expect(early.toString()).to.equal('early');
    await kernel;
    expect(rulesOf(tunnel, 'OUTPUT')).to.have.length(1);
    const later = await exchange(tunnel.localPort, Buffer.from('later'));
    expect(later.toString()).to.equal('later');
    await loc.node().destroyContainer(late);
  });

  it('follows a reboot: the rules go while the container restarts and come back for its address', async () => {
    const box = loc.node().spawnContainer('busybox', { command: echoServer(9000) });
    await box.waitTcp(9000);
    const tunnel = await kernelTunnel(box, 9000);
    const paths: string[] = [];
    tunnel.path$.subscribe((p) => paths.push(p));
    await box.reboot();
    expect(paths).to.deep.equal(['kernel', 'direct']);
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    const kernel = firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel')));
    const relayed = await exchange(tunnel.localPort, Buffer.from('after the reboot'));
    expect(relayed.toString()).to.equal('after the reboot');
    await kernel;
    const dnat = rulesOf(tunnel, 'OUTPUT');
    expect(dnat).to.have.length(1);
    expect(dnat[0]).to.contain(`--to-destination ${box.privateIp}:9000`);
    const back = await exchange(tunnel.localPort, Buffer.from('in the kernel again'));
    expect(back.toString()).to.equal('in the kernel again');
    await loc.node().destroyContainer(box);
  });

  it('loses its connections and rules with its container', async () => {
    const box = loc.node().spawnContainer('busybox', { command: echoServer(9000) });
    await box.waitTcp(9000);
    const tunnel = await kernelTunnel(box, 9000);
    const socket = await echoedConnection(tunnel.localPort);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const tunnelClosed = lastValueFrom(tunnel.path$.pipe(toArray()));
    await loc.node().destroyContainer(box);
    await closed;
    await tunnelClosed;
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    expect(rulesOf(tunnel, 'POSTROUTING')).to.deep.equal([]);
  });

  it('relays in this process a tunnel bound to an address other than loopback', async () => {
    const tunnel = await echo.attachTunnel(9000, { bind: '0.0.0.0' });
    for (const text of ['relayed', 'relayed again']) {
      const back = await exchange(tunnel.localPort, Buffer.from(text));
      expect(back.toString()).to.equal(text);
    }
    expect(tunnel.path).to.equal('direct');
    expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    await echo.destroyTunnel(tunnel);
  });

  it('relays in this process when the session turns kernel tunnels off', async () => {
    const relayed = await Location.connect({ quiet: true, kernelTunnels: false });
    try {
      const box = relayed.node().spawnContainer('busybox', { command: echoServer(9000) });
      await box.waitTcp(9000);
      const tunnel = await box.attachTunnel(9000);
      for (const text of ['relayed', 'relayed again']) {
        const back = await exchange(tunnel.localPort, Buffer.from(text));
        expect(back.toString()).to.equal(text);
      }
      expect(tunnel.path).to.equal('direct');
      expect(rulesOf(tunnel, 'OUTPUT')).to.deep.equal([]);
    } finally {
      await relayed.disconnect();
    }
  });

  it('removes, at its first use in a process, the rules a process that is gone left behind', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const leftover = `tfnz-tunnel:${gone}:leftover`;
    const rule = ['OUTPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', '9', '-m', 'comment', '--comment', leftover, '-j', 'DNAT', '--to-destination', '192.0.2.1:9'];
    iptables(['-A', ...rule]);
    try {
      expect(await new KernelForwards().unavailable('127.0.0.1')).to.equal(undefined);
      expect(natRules().filter((l) => l.includes(leftover))).to.deep.equal([]);
    } finally {
      try {
        iptables(['-D', ...rule]);
      } catch {
        // removed, as it should be
      }
    }
  });
});

/** A tunnel to `container`:`port` that the kernel forwards: its first connection (relayed) reached the container. */
async function kernelTunnel(container: Container, port: number): Promise<Tunnel> {
  const tunnel = await container.attachTunnel(port);
  const kernel = firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel')));
  await exchange(tunnel.localPort, Buffer.from('first'));
  await kernel;
  return tunnel;
}

function iptables(args: string[]): string {
  return execFileSync('iptables', ['-w', '-t', 'nat', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The nat table, one rule a line, with packet counters. */
function natRules(): string[] {
  return iptables(['-S', '-v']).split('\n');
}

/** The rules of `tunnel` in `chain`. */
function rulesOf(tunnel: Tunnel, chain: string): string[] {
  return natRules().filter((l) => l.startsWith(`-A ${chain} `) && l.includes(`tfnz-tunnel:${process.pid}:${tunnel.id}`));
}

/** Packets a rule matched, from its `-c packets bytes` counters. */
function packets(rule: string): number {
  return Number(/ -c (\d+) \d+/.exec(rule)?.[1]);
}

/** A connection to the local port that has carried a byte to the container and back. */
async function echoedConnection(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('x');
  await new Promise((resolve) => socket.once('data', resolve));
  return socket;
}
