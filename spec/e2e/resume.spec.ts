import { expect } from 'chai';
import { firstValueFrom, filter, lastValueFrom, toArray, take } from 'rxjs';
import { nanoid } from 'nanoid';
import { Location, RequestTimeout, SessionExpired, lines, tableGet } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { FaultProxy } from '../support/fault-proxy';
import { linkChanges, nextLink } from '../support/session-link';
import { containersLabelled, eventually } from '../support/docker';
import { exchange, httpGet, sha256 } from '../support/net';
import { randomBytes } from 'node:crypto';

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

  /** A location of its own behind a fresh proxy, and a session through the proxy; heartbeats as given on both ends. */
  async function setUp(sessionGraceMs: number, { heartbeatMs, requestTimeoutMs }: { heartbeatMs?: number; requestTimeoutMs?: number } = {}): Promise<Location> {
    server = await LocationServer.start({ name: `spec-resume-${nanoid(6)}`, port: 0, sessionGraceMs, heartbeatMs });
    proxy = await FaultProxy.start(server.port);
    // directTunnels off: tunnels must cross the proxy's outage (this location shares our network stack).
    return Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true, heartbeatMs, requestTimeoutMs, directTunnels: false });
  }

  it('resumes by itself: every stdout line arrives exactly once, in order, and the container keeps running', async () => {
    const loc = await setUp(60_000);
    try {
      const links = lastValueFrom(linkChanges(loc).pipe(take(2), toArray()));
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
    const loc = await setUp(60_000, { heartbeatMs: 300 });
    try {
      const lost = nextLink(loc, 'lost');
      const resumed = nextLink(loc, 'resumed');
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

  it('never runs a request that timed out while the connection was down, sent before the drop or queued during it', async () => {
    const loc = await setUp(60_000, { heartbeatMs: 300, requestTimeoutMs: 2500 });
    try {
      const lost = nextLink(loc, 'lost');
      const resumed = nextLink(loc, 'resumed');
      const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      proxy.stall();
      // Written to a socket that delivers nothing: the location never got it.
      const sentBefore = ctr.spawnProcess('touch /tmp/sent-before-the-drop');
      await lost;
      // Made while the SDK knows the socket is down: it waits to be sent after the resume.
      const queuedDuring = ctr.spawnProcess('touch /tmp/queued-during-the-drop');
      expect(await sentBefore.started.catch((e: Error) => e)).to.be.instanceOf(RequestTimeout);
      expect(await queuedDuring.started.catch((e: Error) => e)).to.be.instanceOf(RequestTimeout);
      expect(ctr.allProcesses(), 'the SDK holds neither').to.deep.equal([]);
      proxy.restore();
      await resumed;
      // Give a wrongly replayed request ample time to have run (it would take milliseconds), then look.
      const look = await ctr.runProcess(['sh', '-c', 'sleep 1; ls /tmp']);
      expect(look.stdout.toString().split('\n').filter(Boolean)).to.deep.equal([]);
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
      const resumed = nextLink(loc, 'resumed');
      let cut = false;
      const echoed = await exchange(tunnel.localPort, data, {
        // Cut the network once a third of the echo is back: bytes are in flight both ways.
        onReceived: (total) => {
          if (cut || total <= data.length / 3) return;
          cut = true;
          proxy.cut();
          void outage().then(() => proxy.restore());
        },
      });
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
      const resumed = nextLink(loc, 'resumed');
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
