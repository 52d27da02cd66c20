/**
 * One benchmark in a process of its own (bench/run.ts starts one per benchmark):
 * `tsx bench/run-one.ts NAME OUT` runs benchmark NAME within its budget and writes its figures to
 * OUT as JSON. A failure is written as an n/a figure, so the suite goes on.
 */
import { writeFile } from 'node:fs/promises';
import { BENCHES } from './benches';
import { makeDocker } from './common';
import { naFigure, progress, type Figure } from './stats';

const [name, out] = process.argv.slice(2);
const bench = BENCHES.find((b) => b.name === name);
if (!bench || !out) throw new Error(`usage: tsx bench/run-one.ts NAME OUT (NAME one of ${BENCHES.map((b) => b.name).join(', ')})`);
let figures: Figure[];
try {
  figures = await bench.run({ docker: makeDocker(), budgetMs: bench.budgetMs });
} catch (err) {
  progress(`${bench.name}: FAILED: ${(err as Error).stack ?? err}`);
  figures = [naFigure(bench.name, 'all figures', '—', `the benchmark failed: ${(err as Error).message}`)];
}
await writeFile(out, JSON.stringify(figures));
// Sockets and timers of a failed benchmark must not keep the process alive.
process.exit(0);
