/**
 * Figure 1 — spawn to running. Through an embedded location:
 *   node.spawnContainer('busybox', { command: ['sleep', '3600'] }).ready()
 * against the floor on the same engine with dockerode: createContainer + start + inspect (Running).
 * A second, informational floor does the engine calls the location itself makes (image inspect,
 * create, attach, start, inspect), so the gap splits into engine calls and SDK/protocol overhead.
 * Runs are interleaved (order rotating) so drift in the engine hits every side alike.
 */
import type Docker from 'dockerode';
import { Location } from '../lib/index';
import { benchLabels, type BenchContext } from './common';
import { bounded, figure, now, progress, summarise, withTimeout, type Figure } from './stats';

// 15: the spawns of one run spread over ±10 %; with 7 the medians moved by a few % from run to run.
const RUNS = Number(process.env.BENCH_SPAWN_RUNS ?? 15);
const COMMAND = ['sleep', '3600'];

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  const loc = await Location.connect({ quiet: true });
  const spawn = { tfnz: [] as number[], direct: [] as number[], sameSteps: [] as number[] };
  const destroy = { tfnz: [] as number[], direct: [] as number[] };
  try {
    const node = loc.node();

    const viaTfnz = async (record: boolean) => {
      const t0 = now();
      const ctr = node.spawnContainer('busybox', { command: COMMAND });
      await withTimeout(ctr.ready(), 60_000, 'tfnz spawn');
      const t1 = now();
      await node.destroyContainer(ctr);
      const t2 = now();
      if (record) (spawn.tfnz.push(t1 - t0), destroy.tfnz.push(t2 - t1));
    };
    const create = () =>
      docker.createContainer({
        Image: 'busybox', Entrypoint: [COMMAND[0]], Cmd: COMMAND.slice(1), Labels: benchLabels('spawn'),
        AttachStdout: true, AttachStderr: true, Tty: false, HostConfig: { Init: false },
      });
    const running = async (c: Docker.Container) => {
      const info = await c.inspect();
      if (!info.State.Running) throw new Error('direct container is not running after start');
    };
    const viaDocker = async (record: boolean) => {
      const t0 = now();
      const c = await create();
      await c.start();
      await running(c);
      const t1 = now();
      await c.remove({ force: true });
      const t2 = now();
      if (record) (spawn.direct.push(t1 - t0), destroy.direct.push(t2 - t1));
    };
    const viaDockerSameSteps = async (record: boolean) => {
      const t0 = now();
      await docker.getImage('busybox').inspect();
      const c = await create();
      const stream = (await c.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & { destroy?(): void };
      stream.on('error', () => undefined);
      await c.start();
      await running(c);
      const t1 = now();
      await c.remove({ force: true });
      stream.destroy?.();
      if (record) spawn.sameSteps.push(t1 - t0);
    };

    const sides = [viaTfnz, viaDocker, viaDockerSameSteps];
    // One warm-up each (image metadata, first network set-up), not recorded.
    for (const side of sides) await side(false);
    const runs = await bounded(RUNS, budgetMs, async (i) => {
      for (let k = 0; k < sides.length; k++) await sides[(i + k) % sides.length](true);
    }, 3);
    progress(`spawn: ${runs} interleaved runs`);
  } finally {
    await loc.disconnect();
  }
  const note = spawn.tfnz.length < RUNS ? `stopped after ${spawn.tfnz.length} of ${RUNS} runs (time budget)` : undefined;
  return [
    figure({
      bench: 'spawn', name: 'spawn → running', unit: 'ms', better: 'lower',
      tfnz: summarise(spawn.tfnz), floorName: 'dockerode create+start+inspect', floor: summarise(spawn.direct),
      goal: ['≤', 1.05], note,
    }),
    figure({
      bench: 'spawn', name: 'spawn → running (informational)', unit: 'ms', better: 'lower',
      tfnz: summarise(spawn.tfnz), floorName: "dockerode, the location's calls", floor: summarise(spawn.sameSteps),
      note: "floor = image inspect + create + attach + start + inspect, what the location asks the engine; the rest of the gap is SDK + protocol",
    }),
    figure({
      bench: 'spawn', name: 'destroy', unit: 'ms', better: 'lower',
      tfnz: summarise(destroy.tfnz), floorName: 'dockerode remove force', floor: summarise(destroy.direct), goal: ['≤', 1.2],
    }),
  ];
}
