import { expect } from 'chai';
import { firstValueFrom, filter, lastValueFrom, toArray, take } from 'rxjs';
import { nanoid } from 'nanoid';
import { Location, SessionExpired, lines, tableGet } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { FaultProxy } from '../support/fault-proxy';
import { containersLabelled, eventually } from '../support/docker';
import { httpGet, sha256 } from '../support/net';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

/** The network stays down this long: a "minor disconnection", scaled down where 30 s adds nothing. */
const OUTAGE_MS = 2000;
const outage = (ms = OUTAGE_MS) => new Promise((r) => setTimeout(r, ms));

describe('network loss: resume and expiry (real location behind a proxy that fails)', function () {
  this.timeout(90_000);
  let server: LocationServer;
  let proxy: FaultProxy;

  afterEach(async () => {
    await proxy?.close();
    await server?.close();
  });

  async function setUp(sessionGraceMs: number): Promise<Location> {
    server = await LocationServer.start({ name: `spec-resume-${nanoid(6)}`, port: 0, sessionGraceMs });
    proxy = await FaultProxy.start(server.port);
    return Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true });
  }

  it('resumes by itself: every stdout line arrives exactly once, in order, and the container keeps running', async () => {
    const loc = await setUp(60_000);
    try {
      const links = lastValueFrom((loc as unknown as { connection: { link$: import('rxjs').Observable<string> } }).connection.link$.pipe(take(2), toArray()));
      const counter = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in $(seq 1 3000); do echo $i; usleep 1000; done'] });
      const seen = lastValueFrom(counter.stdout$.pipe(lines(), toArray()));
      await firstValueFrom(counter.stdout$.pipe(lines(), filter((l) => l === '300')));
      proxy.cut();
      // A request made while the network is down goes out again once the session is back.
      const during = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await outage(30_000); // the figure: thirty seconds without a network
      proxy.restore();
      expect(await links).to.deep.equal(['lost', 'resumed']);
      await during.ready();
      expect(await firstValueFrom(counter.termination$)).to.equal(0);
      const got = await seen;
      expect(got.length).to.equal(3000);
      expect(got).to.deep.equal(Array.from({ length: 3000 }, (_, i) => String(i + 1)));
      // State agrees with the location: both containers, right statuses; the engine agrees too.
      expect(tableGet(loc.state.containers, during.id)!.status).to.equal('running');
      expect(tableGet(loc.state.containers, counter.id)!.status).to.equal('exited');
      expect(await containersLabelled('tfnz.container', during.id)).to.have.length(1);
    } finally {
      await loc.disconnect();
    }
  });

  it('notices a connection that went silent (no close at all) and resumes once the network is back', async () => {
    server = await LocationServer.start({ name: `spec-resume-${nanoid(6)}`, port: 0, sessionGraceMs: 60_000, heartbeatMs: 300 });
    proxy = await FaultProxy.start(server.port);
    const loc = await Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true, heartbeatMs: 300 });
    try {
      const link$ = (loc as unknown as { connection: { link$: import('rxjs').Observable<string> } }).connection.link$;
      const lost = firstValueFrom(link$.pipe(filter((l) => l === 'lost')));
      const resumed = firstValueFrom(link$.pipe(filter((l) => l === 'resumed')));
      const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      proxy.stall();
      await lost; // the heartbeat found the silence
      proxy.restore();
      await resumed;
      const probe = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'exit 3'] });
      expect(await firstValueFrom(probe.termination$)).to.equal(3);
      expect(ctr.status).to.equal('running');
    } finally {
      await loc.disconnect();
    }
  });

  it('carries a tunnel transfer across the outage, byte-exact', async () => {
    const loc = await setUp(60_000);
    try {
      const echo = loc.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
      const tunnel = await echo.attachTunnel(9000);
      const data = randomBytes(48 * 1024 * 1024);
      const link$ = (loc as unknown as { connection: { link$: import('rxjs').Observable<string> } }).connection.link$;
      const resumed = firstValueFrom(link$.pipe(filter((l) => l === 'resumed')));
      let cut = false;
      const back = new Promise<Buffer>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: tunnel.localPort, allowHalfOpen: true });
        const received: Buffer[] = [];
        let total = 0;
        socket.on('data', (chunk) => {
          received.push(chunk);
          total += chunk.length;
          // Cut the network once a third of the echo is back: bytes are in flight both ways.
          if (!cut && total > data.length / 3) {
            cut = true;
            proxy.cut();
            void outage().then(() => proxy.restore());
          }
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(received)));
        socket.on('connect', () => socket.end(data));
      });
      const echoed = await back;
      await resumed;
      expect(cut).to.equal(true);
      expect(echoed.length).to.equal(data.length);
      expect(sha256(echoed)).to.equal(sha256(data));
    } finally {
      await loc.disconnect();
    }
  });

  it('keeps tunnels: connections after the resume go through', async () => {
    const loc = await setUp(60_000);
    try {
      const nginx = loc.node().spawnContainer('nginx');
      const tunnel = await nginx.attachTunnel(80);
      expect((await httpGet(tunnel.localPort)).status).to.equal(200);
      const resumed = firstValueFrom((loc as unknown as { connection: { link$: import('rxjs').Observable<string> } }).connection.link$.pipe(filter((l) => l === 'resumed')));
      proxy.cut();
      await outage();
      proxy.restore();
      await resumed;
      const page = await httpGet(tunnel.localPort);
      expect(page.body).to.contain('Welcome to nginx!');
    } finally {
      await loc.disconnect();
    }
  });

  it('ends the session after the grace period: run() rejects with SessionExpired and the containers are gone', async () => {
    const loc = await setUp(1000);
    const running = loc.run().then(() => null, (e: Error) => e);
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    proxy.cut();
    // The location gives up after its grace period and collects the session's containers.
    await eventually(async () => expect(await containersLabelled('tfnz.container', ctr.id)).to.deep.equal([]));
    proxy.restore();
    const err = await running;
    expect(err).to.be.instanceOf(SessionExpired);
    expect(err!.message).to.contain('connect again');
  });
});
