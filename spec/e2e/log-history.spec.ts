import { expect } from 'chai';
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import { Location, lines } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { FaultProxy } from '../support/fault-proxy';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('log history (real location, real Docker Engine)', function () {
  this.timeout(90_000);

  describe('on the default location', () => {
    let loc: Location;
    before(async () => {
      loc = await Location.connect({ quiet: true });
    });
    after(async () => {
      await loc?.disconnect();
    });

    it('keeps the output after the container exited: both streams marked, with times, tail, since and timestamps', async () => {
      const before = Date.now();
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'echo one; echo two; echo warn >&2; sleep 1; echo three; printf no-newline; exit 2'] });
      expect(await firstValueFrom(ctr.termination$)).to.equal(2);
      const all = await ctr.logs();
      expect(all.filter((l) => l.stream === 'stdout').map((l) => l.text)).to.deep.equal(['one', 'two', 'three', 'no-newline']);
      expect(all.filter((l) => l.stream === 'stderr').map((l) => l.text)).to.deep.equal(['warn']);
      for (const l of all) expect(l.time.getTime()).to.be.within(before - 1000, Date.now());
      expect((await ctr.logs({ tail: 2 })).map((l) => l.text)).to.deep.equal(['three', 'no-newline']);
      const three = all.find((l) => l.text === 'three')!;
      expect((await ctr.logs({ since: three.time })).map((l) => l.text)).to.deep.equal(['three', 'no-newline']);
      const stamped = await ctr.logs({ tail: 1, timestamps: true });
      expect(stamped[0].text).to.equal(`${stamped[0].time.toISOString()} no-newline`);
    });

    it('logs$ replays what a late subscriber missed and follows the rest: every line once, in order', async () => {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in $(seq 1 400); do echo $i; usleep 2000; done'] });
      await firstValueFrom(ctr.stdout$.pipe(lines(), filter((l) => l === '100')));
      const texts = await lastValueFrom(ctr.logs$().pipe(toArray()));
      expect(texts.map((l) => l.text)).to.deep.equal(range(1, 400));
      // After the end, logs$ replays and completes at once.
      expect((await lastValueFrom(ctr.logs$({ tail: 3 }).pipe(toArray()))).map((l) => l.text)).to.deep.equal(['398', '399', '400']);
    });

    it('logs$ can be left early and followed again', async () => {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; usleep 50000; done'] });
      const first = await lastValueFrom(ctr.logs$().pipe(take(3), toArray()));
      expect(first.map((l) => l.text)).to.deep.equal(['tick-1', 'tick-2', 'tick-3']);
      const later = await firstValueFrom(ctr.logs$({ tail: 1 }));
      expect(Number(later.text.slice(5))).to.be.greaterThan(2);
      await loc.node().destroyContainer(ctr);
    });
  });

  it('keeps only the newest lines past the bound set on the location', async () => {
    const server = await LocationServer.start({ name: `spec-logs-${nanoid(6)}`, port: 0, logHistory: { maxLines: 100 } });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true });
    try {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'seq 1 5000'] });
      await firstValueFrom(ctr.termination$);
      expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(range(4901, 5000));
      const bytes = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in $(seq 1 40); do printf "%01000d\\n" $i; done'] });
      await firstValueFrom(bytes.termination$);
      expect(await bytes.logs()).to.have.length(40);
    } finally {
      await loc.disconnect();
      await server.close();
    }
    const small = await LocationServer.start({ name: `spec-logs-${nanoid(6)}`, port: 0, logHistory: { maxBytes: 10_000 } });
    const loc2 = await Location.connect({ location: `127.0.0.1:${small.port}`, quiet: true });
    try {
      const ctr = loc2.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in $(seq 1 40); do printf "%01000d\\n" $i; done'] });
      await firstValueFrom(ctr.termination$);
      const kept = await ctr.logs();
      expect(kept.map((l) => Number(l.text))).to.deep.equal(range(31, 40).map(Number));
    } finally {
      await loc2.disconnect();
      await small.close();
    }
  });

  it('rejects a bound that is not a whole positive number', async () => {
    const err = await LocationServer.start({ port: 0, logHistory: { maxLines: 0 } }).then(() => null, (e: Error) => e);
    expect(err).to.have.property('name', 'BadRequest');
    expect(err!.message).to.contain('logHistory.maxLines');
  });

  it('keeps the history across a session resume, and a follow survives the outage', async () => {
    const server = await LocationServer.start({ name: `spec-logs-${nanoid(6)}`, port: 0, sessionGraceMs: 60_000 });
    const proxy = await FaultProxy.start(server.port);
    const loc = await Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true });
    try {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in $(seq 1 1500); do echo $i; usleep 1000; done; exec sleep 3600'] });
      const followed = ctr.logs$().pipe(take(1500), toArray());
      const all = lastValueFrom(followed);
      await firstValueFrom(ctr.logs$().pipe(filter((l) => l.text === '200')));
      proxy.cut();
      await new Promise((r) => setTimeout(r, 1500));
      proxy.restore();
      expect((await all).map((l) => l.text)).to.deep.equal(range(1, 1500));
      expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(range(1, 1500));
    } finally {
      await loc.disconnect();
      await proxy.close();
      await server.close();
    }
  });
});
