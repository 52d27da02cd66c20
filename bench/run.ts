/**
 * The benchmark suite: `npm run bench` (or `npx tsx bench/run.ts [name ...]` for a subset).
 * Each benchmark measures a figure through tfnz and its floor (the same work without tfnz) in the
 * same run; this prints the goals (one row per goal, with its peer, ratio and verdict) and then every
 * figure to stdout, and writes bench/results.json and bench/results.md (both tables in markdown,
 * for the README). Progress goes to stderr. Each benchmark runs in a process of its own
 * (run-one.ts), so none pays for what the ones before it left in memory.
 *
 * Environment: BENCH_TUNNEL_MB, BENCH_STDOUT_MB (transfer sizes), BENCH_SPAWN_RUNS, BENCH_ROUND_TRIPS,
 * BENCH_SESSIONS (idle sessions for the control-plane figures), BENCH_IMAGE_MB and BENCH_IMAGE_RUNS
 * (the large image's extra layer and the upload runs), BENCH_PULL_RUNS (registry pulls of the
 * ~100 MiB image scripts/registry.sh pushes), BENCH_REMOTE_MB and BENCH_REMOTE_ROUND_TRIPS
 * (tunnel-remote: to a container on another host of scripts/multi-host.sh; needs root).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, hostname, release, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { BENCHES, type Bench } from './benches';
import { makeDocker, removeBenchContainers } from './common';
import { formatTable, goalRows, markdownReport, naFigure, now, progress, textTable, type Figure } from './stats';
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
  const dir = dirname(fileURLToPath(import.meta.url));
  const scratch = await mkdtemp(join(tmpdir(), 'tfnz-bench-'));
  for (const bench of selected) {
    progress(`${bench.name}: starting (budget ${bench.budgetMs / 1000}s)`);
    const t0 = now();
    try {
      figures.push(...(await runAlone(bench, join(dir, 'run-one.ts'), join(scratch, `${bench.name}.json`))));
    } catch (err) {
      progress(`${bench.name}: FAILED: ${(err as Error).message}`);
      figures.push(naFigure(bench.name, 'all figures', '—', `the benchmark failed: ${(err as Error).message}`));
    }
    timings[bench.name] = Math.round(now() - t0);
    progress(`${bench.name}: done in ${(timings[bench.name] / 1000).toFixed(1)}s`);
  }
  await rm(scratch, { recursive: true, force: true });
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
  const out = join(dir, 'results.json');
  await writeFile(out, JSON.stringify({ machine, totalMs, benchmarkMs: timings, figures }, null, 2) + '\n');
  // The README's Performance table is this file's goal table, pasted as it is.
  await writeFile(join(dir, 'results.md'), markdownReport(title, figures));
  progress(`wrote ${out} and results.md`);
}

/**
 * Run `bench` in a process of its own (run-one.ts), as a user's program would run tfnz: what the
 * benchmarks before it left in memory (1000 sessions, 100 000 folded containers) would otherwise
 * make every garbage collection of the next one slower, and tfnz's side alone pays for that (its
 * peers are other processes). Killed past its hard limit (what it started is left, as an
 * in-process benchmark past its limit went on running); its figures come back in `out`.
 */
async function runAlone(bench: Bench, script: string, out: string): Promise<Figure[]> {
  // Not detached: a new session is a scheduling group of its own (Linux autogroup), which changes
  // how the cores are shared with whatever runs beside it (dockerd, when started from this shell).
  const child = spawn(process.execPath, ['--import', 'tsx', script, bench.name, out], { stdio: ['ignore', 'inherit', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), bench.hardMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    });
    if (signal === 'SIGKILL') throw new Error(`did not finish within ${bench.hardMs / 1000}s`);
    if (code !== 0) throw new Error(`its process exited with ${code ?? signal} (see the output above)`);
    return JSON.parse(await readFile(out, 'utf8')) as Figure[];
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  // Sockets and timers of failed benchmarks must not keep the process alive.
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
