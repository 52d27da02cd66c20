import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { firstValueFrom } from 'rxjs';
import { Location, PortInUse, type Container } from '../../lib/index';
import { nanoid } from 'nanoid';
import { LocationServer } from '../../lib/server/index';
import { echoServer, exchange, httpGet, readSlowly, sha256, zeroesServer } from './../support/net';

/**
 * Each promise on both kinds of location: the embedded one (connections go straight to the
 * container) and one reached by its URL (each connection on a data connection of its own).
 * ConnectFailed when nothing listens is checked on every path in tunnel-paths.spec.ts.
 */
const EMBEDDED = 'embedded location';
const locations: [string, () => Promise<{ loc: Location; close(): Promise<void> }>][] = [
  [EMBEDDED, async () => {
    const loc = await Location.connect({ quiet: true });
    return { loc, close: () => loc.disconnect() };
  }],
  ['location reached by its URL, data connections', async () => {
    const server = await LocationServer.start({ name: `spec-tunnels-${nanoid(6)}`, port: 0 });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true, directTunnels: false });
    return { loc, close: async () => (await loc.disconnect(), await server.close()) };
  }],
];

for (const [where, open] of locations) describe(`tunnels (real location, real Docker Engine): ${where}`, function () {
  this.timeout(120_000);
  let session: { loc: Location; close(): Promise<void> };
  let loc: Location;
  let echo: Container;

  before(async () => {
    session = await open();
    loc = session.loc;
    // A persistent echo server: every connection gets its own `cat`.
    echo = loc.node().spawnContainer('busybox', { command: echoServer(9000) });
    await echo.ready();
  });
  after(async () => {
    await session?.close();
  });

  it('serves the nginx welcome page on a local port', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    const tunnel = await nginx.attachTunnel(80);
    const page = await httpGet(tunnel.localPort);
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('Welcome to nginx!');
  });

  it('carries a 50 MB transfer byte-exact in both directions', async () => {
    const tunnel = await echo.attachTunnel(9000);
    const data = randomBytes(50 * 1024 * 1024);
    const back = await exchange(tunnel.localPort, data);
    expect(back.length).to.equal(data.length);
    expect(sha256(back)).to.equal(sha256(data));
  });

  it('carries several connections at once, each intact', async () => {
    const tunnel = await echo.attachTunnel(9000);
    const payloads = Array.from({ length: 8 }, () => randomBytes(2 * 1024 * 1024));
    const results = await Promise.all(payloads.map((p) => exchange(tunnel.localPort, p)));
    results.forEach((r, i) => expect(sha256(r), `connection ${i}`).to.equal(sha256(payloads[i])));
  });

  it('hands a slow reader every byte a container sent before it closed', async () => {
    // The container writes 16 MB and exits at once; the reader here takes its time. The close that
    // follows the end must not drop what still waits in the local socket for the reader.
    const source = loc.node().spawnContainer('busybox', { command: zeroesServer(9003, 16 * 1024 * 1024) });
    await source.waitTcp(9003);
    const tunnel = await source.attachTunnel(9003);
    // Far slower than the container, so the buffers fill.
    const received = await readSlowly(tunnel.localPort, 10);
    expect(received).to.equal(16 * 1024 * 1024);
    await loc.node().destroyContainer(source);
  });

  it('keeps control messages flowing while a transfer is under way', async () => {
    const tunnel = await echo.attachTunnel(9000);
    const transfer = exchange(tunnel.localPort, randomBytes(30 * 1024 * 1024));
    // A full spawn-run-exit round trip through the same session, during the transfer.
    const quick = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'exit 5'] });
    expect(await firstValueFrom(quick.termination$)).to.equal(5);
    expect((await transfer).length).to.equal(30 * 1024 * 1024);
  });

  it('holds memory bounded while a local reader is much slower than the container', async () => {
    // `yes` writes as fast as the container can; the local reader takes at most 64 KiB every 10 ms.
    const flood = loc.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9002', '-e', 'yes'] });
    const tunnel = await flood.attachTunnel(9002);
    const baseline = process.memoryUsage().arrayBuffers;
    let peakGrowth = 0;
    let received = 0;
    const target = 24 * 1024 * 1024;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(tunnel.localPort, '127.0.0.1');
      socket.pause();
      socket.on('error', reject);
      const timer = setInterval(() => {
        let chunk: Buffer | null;
        let taken = 0;
        while (taken < 64 * 1024 && (chunk = socket.read()) !== null) taken += chunk.length;
        received += taken;
        peakGrowth = Math.max(peakGrowth, process.memoryUsage().arrayBuffers - baseline);
        if (received >= target) {
          clearInterval(timer);
          socket.destroy();
          resolve();
        }
      }, 10);
    });
    await loc.node().destroyContainer(flood);
    // Meanwhile `yes` could have produced gigabytes; the credit window and the socket buffers
    // allow only a few tens of MiB to wait in this process (SDK and embedded location together).
    expect(received).to.be.at.least(target);
    expect(peakGrowth, `peak growth of buffered bytes: ${(peakGrowth / 2 ** 20).toFixed(1)} MiB`).to.be.below(64 * 2 ** 20);
  });

  it('refuses a local port that is taken with PortInUse', async () => {
    const first = await echo.attachTunnel(9000);
    const err = await echo.attachTunnel(9000, { localPort: first.localPort }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(PortInUse);
  });

  it('stops listening when the tunnel is destroyed, and tracks tunnels per container', async () => {
    const t1 = await echo.attachTunnel(9000);
    const t2 = await echo.attachTunnel(9000);
    expect(echo.allTunnels()).to.include.members([t1, t2]);
    expect(Object.keys(loc.state.tunnels)).to.include.members([t1.id, t2.id]);
    await echo.destroyTunnel(t1);
    expect(echo.allTunnels()).to.not.include(t1);
    expect(loc.state.tunnels[t1.id]).to.equal(undefined);
    const refused = await new Promise<string>((resolve) =>
      connect(t1.localPort, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')).on('connect', () => resolve('connected')),
    );
    expect(refused).to.equal('ECONNREFUSED');
    const back = await exchange(t2.localPort, Buffer.from('still here'));
    expect(back.toString()).to.equal('still here');
  });

  // The embedded location's relay has a thread of its own; a remote location's tunnels go through this thread.
  if (where === EMBEDDED) it('keeps carrying bytes while the program keeps its own thread busy', async () => {
    // The relay has a thread of its own: another process exchanges 256 KiB through the tunnel
    // while this thread computes (a busy loop, as a CPU-bound program would) for 4 s.
    const tunnel = await echo.attachTunnel(9000);
    const size = 256 * 1024;
    const client = spawn(process.execPath, ['-e', `
      const socket = require('node:net').connect({ host: '127.0.0.1', port: ${tunnel.localPort}, allowHalfOpen: true });
      let bytes = 0;
      socket.on('data', (chunk) => (bytes += chunk.length));
      socket.on('close', () => console.log(JSON.stringify({ bytes, at: Date.now() })));
      socket.on('connect', () => (console.log('connected'), process.stdin.once('data', () => socket.end(Buffer.alloc(${size}, 7)))));
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).to.equal('connected');
    client.stdin!.write('go\n');
    const busyUntil = Date.now() + 4000;
    while (Date.now() < busyUntil); // eslint-disable-line no-empty
    const done = JSON.parse((await lines.next()).value as string) as { bytes: number; at: number };
    expect(done.bytes).to.equal(size);
    expect(done.at, 'the echo came back while this thread was busy').to.be.below(busyUntil);
  });

  it('closes a container\'s tunnels when the container is destroyed', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
    const tunnel = await ctr.attachTunnel(9000);
    await loc.node().destroyContainer(ctr);
    expect(tunnel.isClosed).to.equal(true);
    expect(ctr.allTunnels()).to.deep.equal([]);
  });
});
