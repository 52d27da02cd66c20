/**
 * The benchmark suite: `npm run bench` (or `npx tsx bench/run.ts [name ...]` for a subset).
 * Each benchmark measures a figure through tfnz and its floor (the same work without tfnz) in the
 * same run; this prints the goals (one row per goal, with its peer, ratio and verdict) and then every
 * figure to stdout, and writes bench/results.json and bench/results.md (both tables in markdown,
 * for the README). Progress goes to stderr.
 *
 * Environment: BENCH_TUNNEL_MB, BENCH_STDOUT_MB (transfer sizes), BENCH_SPAWN_RUNS, BENCH_ROUND_TRIPS,
 * BENCH_SESSIONS (idle sessions for the control-plane figures), BENCH_IMAGE_MB and BENCH_IMAGE_RUNS
 * (the large image's extra layer and the upload runs), BENCH_PULL_RUNS (registry pulls of the
 * ~100 MiB image scripts/registry.sh pushes), BENCH_REMOTE_MB and BENCH_REMOTE_ROUND_TRIPS
 * (tunnel-remote: to a container on another host of scripts/multi-host.sh; needs root).
 */
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem, hostname, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { makeDocker, removeBenchContainers, type BenchContext } from './common';
import { formatTable, goalRows, markdownReport, naFigure, now, progress, textTable, type Figure } from './stats';
import * as spawn from './spawn';
import * as tunnelThroughput from './tunnel-throughput';
import * as tunnelLatency from './tunnel-latency';
import * as stdout from './stdout';
import * as stateFolding from './state-folding';
import * as sessions from './sessions';
import * as frontDoor from './front-door';
import * as imageUpload from './image-upload';
import * as importTime from './import-time';
import * as registryPull from './registry-pull';
import * as tunnelRemote from './tunnel-remote';

interface Bench {
  name: string;
  /** Soft budget in ms: loops inside stop early past it. */
  budgetMs: number;
  /** Hard limit in ms: past it the benchmark is reported n/a and the suite moves on. */
  hardMs: number;
  run(ctx: BenchContext): Promise<Figure[]>;
}

const BENCHES: Bench[] = [
  { name: 'state-folding', budgetMs: 45_000, hardMs: 90_000, run: stateFolding.run },
  { name: 'spawn', budgetMs: 50_000, hardMs: 120_000, run: spawn.run },
  { name: 'tunnel-throughput', budgetMs: 120_000, hardMs: 360_000, run: tunnelThroughput.run },
  { name: 'tunnel-latency', budgetMs: 30_000, hardMs: 90_000, run: tunnelLatency.run },
  { name: 'stdout', budgetMs: 150_000, hardMs: 300_000, run: stdout.run },
  { name: 'sessions', budgetMs: 60_000, hardMs: 240_000, run: sessions.run },
  { name: 'front-door', budgetMs: 30_000, hardMs: 90_000, run: frontDoor.run },
  { name: 'image-upload', budgetMs: 90_000, hardMs: 300_000, run: imageUpload.run },
  { name: 'import-time', budgetMs: 60_000, hardMs: 120_000, run: importTime.run },
  // #19
  { name: 'registry-pull', budgetMs: 90_000, hardMs: 300_000, run: registryPull.run },
  { name: 'tunnel-remote', budgetMs: 90_000, hardMs: 240_000, run: tunnelRemote.run },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')}`);
  const selected = wanted.length ? BENCHES.filter((b) => wanted.includes(b.name)) : BENCHES;

  const docker = makeDocker();
  const engine = await docker.version().catch((err: Error) => {
    throw new Error(`Docker Engine is not reachable on /var/run/docker.sock (${err.message}); run npm run prepare-engine`);
  });
  for (const image of ['busybox:latest', 'nginx:latest']) {
    await docker.getImage(image).inspect().catch(() => {
      throw new Error(`image ${image} is missing; run scripts/build-images.sh (this suite never pulls)`);
    });
  }

  const started = now();
  const figures: Figure[] = [];
  const timings: Record<string, number> = {};
  for (const bench of selected) {
    progress(`${bench.name}: starting (budget ${bench.budgetMs / 1000}s)`);
    const t0 = now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const hard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${bench.hardMs / 1000}s`)), bench.hardMs);
      });
      figures.push(...(await Promise.race([bench.run({ docker, budgetMs: bench.budgetMs }), hard])));
    } catch (err) {
      progress(`${bench.name}: FAILED: ${(err as Error).stack ?? err}`);
      figures.push(naFigure(bench.name, 'all figures', '—', `the benchmark failed: ${(err as Error).message}`));
    } finally {
      clearTimeout(timer);
    }
    timings[bench.name] = Math.round(now() - t0);
    progress(`${bench.name}: done in ${(timings[bench.name] / 1000).toFixed(1)}s`);
  }
  const leftovers = await removeBenchContainers(docker);
  if (leftovers) progress(`removed ${leftovers} leftover container(s)`);
  const totalMs = Math.round(now() - started);

  const cpu = cpus();
  const machine = {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${process.platform} ${release()}`,
    hostname: hostname(),
    dockerEngine: engine.Version,
    date: new Date().toISOString(),
  };
  const table = formatTable(figures);
  const goals = goalRows(figures);
  const title =
    `tfnz benchmarks — ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryMiB} MiB, node ${machine.node}, ` +
    `Docker ${machine.dockerEngine}, ${machine.date}`;
  process.stdout.write(
    `${title}\n\ngoals (one row each; ratio = tfnz / peer, medians of the same run)\n\n${textTable(goals)}\n\n` +
      `all figures\n\n${table}\n\ntotal ${(totalMs / 1000).toFixed(1)}s\n`,
  );
  const dir = dirname(fileURLToPath(import.meta.url));
  const out = join(dir, 'results.json');
  await writeFile(out, JSON.stringify({ machine, totalMs, benchmarkMs: timings, figures }, null, 2) + '\n');
  // The README's Performance table is this file's goal table, pasted as it is.
  await writeFile(join(dir, 'results.md'), markdownReport(title, figures));
  progress(`wrote ${out} and results.md`);
}

main().then(
  // Sockets and timers of failed benchmarks must not keep the process alive.
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
