import { expect } from 'chai';
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import { Location, type ContainerStats } from '../../lib/index';
import { DockerEngine, LocationServer } from '../../lib/server/index';
import { eventually } from '../support/docker';

/** The local Docker Engine, counting the stats streams the location has open on it. */
class CountingEngine extends DockerEngine {
  open = 0;
  override async streamStats(engineId: string, onSample: (s: ContainerStats) => void, onEnd: () => void): Promise<() => void> {
    const stop = await super.streamStats(engineId, onSample, onEnd);
    this.open++;
    let closed = false;
    return () => {
      if (!closed) this.open--;
      closed = true;
      stop();
    };
  }
}

describe('container stats (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let server: LocationServer;
  let engine: CountingEngine;
  let loc: Location;

  before(async () => {
    engine = new CountingEngine();
    server = await LocationServer.start({ name: `spec-stats-${nanoid(6)}`, port: 0, engines: [engine] });
    loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
    await server?.close();
  });

  it('shows a process burning a core, and the memory limit it was given', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], resources: { memoryMb: 64 } });
    await ctr.ready();
    const idle = await firstValueFrom(ctr.stats$.pipe(filter((s) => s.memoryLimitBytes > 0)));
    expect(idle.memoryLimitBytes).to.equal(64 * 2 ** 20);
    expect(idle.memoryBytes).to.be.greaterThan(0).and.lessThan(64 * 2 ** 20);
    for (const k of ['networkRxBytes', 'networkTxBytes', 'blockReadBytes', 'blockWriteBytes'] as const) expect(idle[k]).to.be.at.least(0);
    ctr.spawnProcess('while :; do :; done');
    // The engine samples once a second. An idle busybox uses next to nothing; a busy loop gets what
    // the machine has to spare (the specs share two cores with other work, so not a whole one).
    const busy = await firstValueFrom(ctr.stats$.pipe(filter((s) => s.cpuPercent > 10), take(1)));
    expect(busy.cpuPercent).to.be.within(10, 200 * 1.1);
    await loc.node().destroyContainer(ctr);
  });

  it('is shared: two subscribers use one engine stream, which closes when the last one leaves', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await ctr.ready();
    const a = ctr.stats$.subscribe();
    const b = ctr.stats$.subscribe();
    await firstValueFrom(ctr.stats$);
    expect(engine.open).to.equal(1);
    a.unsubscribe();
    await firstValueFrom(ctr.stats$);
    expect(engine.open).to.equal(1);
    b.unsubscribe();
    await eventually(async () => expect(engine.open).to.equal(0), 5000);
    await loc.node().destroyContainer(ctr);
  });

  it('completes when the main process ends, and the engine stream goes with it', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'sleep 2'] });
    await ctr.ready();
    const samples = await lastValueFrom(ctr.stats$.pipe(toArray()));
    expect(samples.length).to.be.at.least(1);
    expect(ctr.status).to.equal('exited');
    await eventually(async () => expect(engine.open).to.equal(0), 5000);
  });
});
