/**
 * Figure 4 — stdout throughput. A busybox container writes BENCH_STDOUT_MB MiB (default 500) of
 * zeros to stdout; through tfnz we count bytes on `ctr.stdout$` until it completes, against the
 * floor of dockerode attaching directly (attach before start, demuxStream, count until 'end').
 * The rate is taken from the first byte to the end of the stream on both sides, so container
 * start-up (measured by the spawn figure) is not part of it; the whole time is kept in results.json.
 */
import type Docker from 'dockerode';
import { Location, type Container } from '../lib/index';
import { benchLabels, type BenchContext } from './common';
import { bounded, figure, now, progress, summarise, withTimeout, type Figure } from './stats';

const MIB = 2 ** 20;
const SIZE_MB = Number(process.env.BENCH_STDOUT_MB ?? 500);
const RUNS = 3;

interface Sample {
  /** MiB/s from the first byte to the end of the stream. */
  rate: number;
  /** ms from asking for the container to the end of the stream. */
  totalMs: number;
}

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  if (!(SIZE_MB > 0)) throw new Error('BENCH_STDOUT_MB must be a positive number');
  const bytes = Math.round(SIZE_MB * MIB);
  const command = ['sh', '-c', `head -c ${bytes} /dev/zero`];
  const loc = await Location.connect({ quiet: true });
  const tfnz: Sample[] = [];
  const direct: Sample[] = [];
  /** The engine's own floor: the same attach when the engine writes no log file (what tfnz asks for). */
  const directNoLog: Sample[] = [];
  const timeoutMs = Math.max(60_000, bytes / (5 * MIB) * 1000); // no slower than 5 MiB/s
  try {
    const node = loc.node();
    const viaTfnz = async () => {
      const t0 = now();
      const ctr: Container = node.spawnContainer('busybox', { command });
      let got = 0;
      let first = 0;
      const done = new Promise<void>((resolve, reject) =>
        ctr.stdout$.subscribe({
          next: (c) => {
            if (!first) first = now();
            got += c.data.length;
          },
          complete: resolve,
          error: reject,
        }),
      );
      let end = 0;
      try {
        await withTimeout(done, timeoutMs, `tfnz stdout of ${SIZE_MB} MiB`);
        end = now(); // the end of the stream, as on the floor's side: the destroy after it is not part of the rate
      } finally {
        await node.destroyContainer(ctr).catch(() => undefined);
      }
      if (got !== bytes) throw new Error(`stdout$ delivered ${got} of ${bytes} bytes`);
      tfnz.push({ rate: bytes / MIB / ((end - first) / 1000), totalMs: end - t0 });
    };
    const viaDocker = async (engineLog: boolean) => {
      const t0 = now();
      const c = await docker.createContainer({
        Image: 'busybox', Entrypoint: [command[0]], Cmd: command.slice(1), Labels: benchLabels('stdout'),
        AttachStdout: true, AttachStderr: true, Tty: false, HostConfig: { Init: false, ...(engineLog ? {} : { LogConfig: { Type: 'none', Config: {} } }) },
      });
      let got = 0;
      let first = 0;
      let end = 0;
      try {
        const stream = (await c.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
        const ended = new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        const count = {
          write: (d: Buffer) => {
            if (!first) first = now();
            got += d.length;
            return true;
          },
        } as unknown as NodeJS.WritableStream;
        (docker as Docker).modem.demuxStream(stream, count, count);
        await c.start();
        await withTimeout(ended, timeoutMs, `docker attach of ${SIZE_MB} MiB`);
        end = now();
      } finally {
        await c.remove({ force: true }).catch(() => undefined);
      }
      if (got !== bytes) throw new Error(`docker attach delivered ${got} of ${bytes} bytes`);
      (engineLog ? direct : directNoLog).push({ rate: bytes / MIB / ((end - first) / 1000), totalMs: end - t0 });
    };
    const runs = await bounded(RUNS, budgetMs, async (i) => {
      if (i % 2 === 0) (await viaTfnz(), await viaDocker(true));
      else (await viaDocker(true), await viaTfnz());
      await viaDocker(false);
    }, 1);
    progress(`stdout: ${runs} interleaved runs of ${SIZE_MB} MiB`);
  } finally {
    await loc.disconnect();
  }
  return [
    figure({
      bench: 'stdout', name: `stdout ${SIZE_MB} MiB → stdout$`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(tfnz.map((s) => s.rate)), floorName: 'dockerode attach+demux', floor: summarise(direct.map((s) => s.rate)),
      goal: ['≥', 0.9],
      note: `rate from first byte to end of stream; size ${SIZE_MB} MiB (BENCH_STDOUT_MB)`,
      extra: { bytes, totalMsTfnz: summarise(tfnz.map((s) => s.totalMs)), totalMsDirect: summarise(direct.map((s) => s.totalMs)) },
    }),
    figure({
      bench: 'stdout', name: `stdout ${SIZE_MB} MiB → stdout$ vs an engine writing no log (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(tfnz.map((s) => s.rate)), floorName: 'dockerode attach+demux, log driver none', floor: summarise(directNoLog.map((s) => s.rate)),
      note: "the goal's peer keeps Docker's default json-file log, as a dockerode user gets; tfnz asks engines for none (the location keeps output itself), so this row is the engine's own floor for tfnz's path",
    }),
  ];
}
