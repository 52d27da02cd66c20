/**
 * Import time of the built package (dist/, so `npm run build` first): a fresh Node process per
 * sample times `import('tfnz')` (or `require`) around the call itself, so Node's own start-up is
 * not counted. The floor is the SDK's own dependencies imported alone: the difference is what tfnz
 * adds. A third figure loads `tfnz/server` too, which is what every `import 'tfnz'` cost before
 * the SDK and the location server were split.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchContext } from './common';
import { figure, naFigure, now, progress, summarise, type Figure } from './stats';

const execFileAsync = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 15);

const dependencies = Object.keys((JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)
  // The command's own packages: the SDK never imports them.
  .filter((name) => name !== 'commander' && name !== 'cli-progress');

/** Milliseconds one fresh process spends in the given imports (ESM) or requires (CommonJS). */
async function sample(modules: string[], flavour: 'esm' | 'cjs'): Promise<number> {
  const load = flavour === 'esm'
    ? `const t0 = performance.now(); for (const m of ${JSON.stringify(modules)}) await import(m); console.log(performance.now() - t0);`
    : `const t0 = performance.now(); for (const m of ${JSON.stringify(modules)}) require(m); console.log(performance.now() - t0);`;
  const args = flavour === 'esm' ? ['--input-type=module', '-e', load] : ['--input-type=commonjs', '-e', load];
  // From the repo, `tfnz` resolves to this package's own exports (dist/), as it does for a user.
  const { stdout } = await execFileAsync(process.execPath, args, { cwd: repo, timeout: 30_000 });
  return Number(stdout.trim());
}

export async function run(ctx: BenchContext): Promise<Figure[]> {
  if (!existsSync(join(repo, 'dist/index.js'))) {
    return [naFigure('import', "import('tfnz')", 'ms', 'dist/ is missing: run npm run build first')];
  }
  const cases = [
    { name: "import('tfnz'), ESM", modules: ['tfnz'], floor: dependencies, flavour: 'esm' as const, floorName: 'its dependencies alone' },
    { name: "require('tfnz'), CommonJS", modules: ['tfnz'], floor: dependencies, flavour: 'cjs' as const, floorName: 'its dependencies alone' },
    { name: "import 'tfnz' and 'tfnz/server'", modules: ['tfnz', 'tfnz/server'], floor: ['tfnz'], flavour: 'esm' as const, floorName: "'tfnz' alone" },
  ];
  const figures: Figure[] = [];
  for (const c of cases) {
    const tfnz: number[] = [];
    const floor: number[] = [];
    const t0 = now();
    // Alternate, so load on the machine falls on both columns alike; at least 3 samples each.
    for (let i = 0; i < RUNS && (i < 3 || now() - t0 < ctx.budgetMs / cases.length); i++) {
      tfnz.push(await sample(c.modules, c.flavour));
      floor.push(await sample(c.floor, c.flavour));
    }
    progress(`import-time: ${c.name}: median ${summarise(tfnz).median.toFixed(1)} ms over ${tfnz.length} processes`);
    figures.push(figure({
      bench: 'import', name: c.name, unit: 'ms', better: 'lower', tfnz: summarise(tfnz), floorName: c.floorName, floor: summarise(floor),
      note: `fresh node process per sample, time inside it around the import; median of ${tfnz.length}`,
    }));
  }
  return figures;
}
