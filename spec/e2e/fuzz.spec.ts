/**
 * Issue 13: a few thousand random and hostile frames, for every name in the catalogue, before and
 * after open_session, against a location in its own process; it must stay alive and serving.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { nanoid } from 'nanoid';
import { exited, startLocationProcess } from '../support/processes';
import { bystander, stillServes, type Bystander } from '../support/bystander';
import { fuzz } from '../support/fuzz';

const FRAMES = Number(process.env.TFNZ_FUZZ_FRAMES ?? 3000);

describe('fuzz: hostile frames for every command and message (issue 13)', function () {
  this.timeout(120_000);
  let location: { child: ChildProcess; url: string };
  let by: Bystander;

  before(async () => {
    // Few containers per user: fuzzed spawn_container requests that happen to be valid stay cheap.
    location = await startLocationProcess(`spec-fuzz-${nanoid(6)}`, ['--containers-per-user', '4', '--open-deadline-ms', '3000']);
    by = await bystander(location.url);
  });
  after(async () => {
    await Promise.race([by?.loc.disconnect(), new Promise((r) => setTimeout(r, 10_000))]);
    if (location && location.child.exitCode === null) {
      location.child.kill('SIGTERM');
      // Seen once in CI: a fuzzed location that did not exit on SIGTERM within the hook's time.
      // Not what this spec asserts (it checked the location served through the fuzzing); kill it.
      const stopped = await Promise.race([exited(location.child).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) {
        console.log('      the fuzzed location did not exit within 10 s of SIGTERM; killed');
        location.child.kill('SIGKILL');
        await exited(location.child);
      }
    }
  });

  it(`stays alive and serving through up to ${FRAMES} fuzzed frames (or 35 s of them)`, async () => {
    const seed = Number(process.env.TFNZ_FUZZ_SEED ?? Date.now() % 1_000_000);
    const report = await fuzz(location.url, { frames: FRAMES, timeMs: 35_000, seed, node: by.loc.node().id });
    console.log(`      fuzz (seed ${seed}): ${report.frames} frames on ${report.sockets} sockets (${report.opened} opened a session); closes ${JSON.stringify(report.closes)}; errors ${JSON.stringify(report.codes)}`);
    expect(location.child.exitCode, 'the location process is alive').to.equal(null);
    expect(report.stalls, 'sync requests left unanswered').to.equal(0);
    expect(report.closes['1011'] ?? 0, 'sessions ended by the last-resort guard').to.equal(0);
    expect(report.untyped, 'untyped errors (failures nobody classified)').to.deep.equal([]);
    expect(report.frames).to.be.at.least(Math.min(FRAMES, 1000));
    await stillServes(by);
  });
});
