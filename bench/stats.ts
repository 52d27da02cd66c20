/**
 * Shared helpers for the benchmarks: summaries (median, min, max, percentiles), bounded loops,
 * the figure record every benchmark returns, and the table run.ts prints.
 */
import { performance } from 'node:perf_hooks';

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

/** One line of the report: a figure measured through tfnz next to its floor, measured in the same run. */
export interface Figure {
  /** Benchmark group, e.g. 'spawn'. */
  bench: string;
  /** What is measured, e.g. 'spawn → running'. */
  name: string;
  unit: string;
  /** Which way is good, so the ratio reads the right way round. */
  better: 'lower' | 'higher';
  tfnz?: Summary;
  /** The baseline: the same work without tfnz in the path. */
  floorName: string;
  floor?: Summary;
  /** tfnz median / floor median. */
  ratio?: number;
  /** E.g. '≤ 1.10' or '≥ 0.50' (a ratio), or '≤ 10 µs/event' (the tfnz median itself). */
  goal?: string;
  goalMet?: boolean;
  /** Set when the figure could not be measured, with the reason. */
  na?: string;
  note?: string;
  /** Anything else worth keeping in results.json (percentiles, sizes, …). */
  extra?: Record<string, unknown>;
}

export const now = (): number => performance.now();

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarise(samples: readonly number[]): Summary {
  return {
    median: median(samples),
    min: samples.length ? Math.min(...samples) : NaN,
    max: samples.length ? Math.max(...samples) : NaN,
    n: samples.length,
    samples: samples.map((x) => round(x, 4)),
  };
}

/**
 * A figure with its ratio and goal verdict filled in. `goal` is ['≤' | '≥', threshold] on the
 * ratio, or ['≤' | '≥', threshold, 'value'] on the tfnz median itself (in the figure's unit).
 */
export function figure(
  f: Omit<Figure, 'ratio' | 'goalMet' | 'goal'> & { goal?: ['≤' | '≥', number] | ['≤' | '≥', number, 'value'] },
): Figure {
  const { goal, ...rest } = f;
  const out: Figure = { ...rest };
  if (f.tfnz && f.floor && f.tfnz.n > 0 && f.floor.n > 0 && f.floor.median !== 0) {
    out.ratio = f.tfnz.median / f.floor.median;
  }
  if (goal) {
    const onValue = goal[2] === 'value';
    out.goal = onValue ? `${goal[0]} ${goal[1]} ${f.unit}` : `${goal[0]} ${goal[1].toFixed(2)}`;
    const measured = onValue ? (f.tfnz && f.tfnz.n > 0 ? f.tfnz.median : undefined) : out.ratio;
    if (measured !== undefined) out.goalMet = goal[0] === '≤' ? measured <= goal[1] : measured >= goal[1];
  }
  return out;
}

export function naFigure(bench: string, name: string, unit: string, reason: string, floorName = '—'): Figure {
  return { bench, name, unit, better: 'lower', floorName, na: reason };
}

/**
 * Run `fn` up to `count` times, stopping early once `maxMs` has passed (after at least `minCount`
 * runs). Every load loop in the suite goes through this or has its own explicit bound.
 */
export async function bounded(
  count: number,
  maxMs: number,
  fn: (i: number) => Promise<void>,
  minCount = 1,
): Promise<number> {
  const start = now();
  let i = 0;
  for (; i < count; i++) {
    if (i >= minCount && now() - start > maxMs) break;
    await fn(i);
  }
  return i;
}

/** Reject after `ms` with a message naming what took too long. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Progress lines go to stderr so stdout carries only the table. */
export function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Table

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function fmtRatio(r: number): string {
  if (r >= 100) return r.toFixed(0);
  if (r >= 0.01) return r.toFixed(2);
  return r.toPrecision(2);
}

function cell(s: Summary | undefined): string {
  if (!s || s.n === 0) return '—';
  if (s.n === 1) return `${fmt(s.median)}`;
  return `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]`;
}

/** A cell of the verdict column. */
const verdict = (f: Figure): string => (f.goalMet === undefined ? '—' : f.goalMet ? 'pass' : 'FAIL');

/**
 * The goals, one row each: what is measured, tfnz's median, the peer and its median, the ratio,
 * the goal and pass/fail. Figures without a goal are left to the full table.
 */
export function goalRows(figures: readonly Figure[]): string[][] {
  const rows = [['goal', 'tfnz', 'peer', 'peer median', 'ratio', 'goal', 'verdict']];
  for (const f of figures) {
    if (!f.goal) continue;
    const value = (s: Summary | undefined) => (s && s.n > 0 ? `${fmt(s.median)} ${f.unit}` : 'n/a');
    rows.push([
      `${f.bench}: ${f.name}`, f.na ? 'n/a' : value(f.tfnz), f.floorName, f.na ? 'n/a' : value(f.floor),
      f.ratio === undefined ? '—' : fmtRatio(f.ratio), f.goal, f.na ? 'n/a' : verdict(f),
    ]);
  }
  return rows;
}

/** Rows (the first is the header) as a GitHub markdown table, for the README. */
export function markdownTable(rows: readonly string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const [header, ...body] = rows;
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** Rows (the first is the header) as aligned plain text. */
export function textTable(rows: readonly string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Every figure, one row each (the first row is the header), and the notes that go under them. */
export function figureRows(figures: readonly Figure[]): { rows: string[][]; notes: string[] } {
  const rows = [['figure', 'unit', 'tfnz median [min–max]', 'floor', 'floor median [min–max]', 'ratio', 'goal', 'ok']];
  const notes: string[] = [];
  for (const f of figures) {
    if (f.na) {
      rows.push([`${f.bench}: ${f.name}`, f.unit, 'n/a', f.floorName, 'n/a', '—', '—', '—']);
      notes.push(`${f.bench}: ${f.name}: n/a — ${f.na}`);
      continue;
    }
    rows.push([
      `${f.bench}: ${f.name}`,
      f.unit,
      cell(f.tfnz),
      f.floorName,
      cell(f.floor),
      f.ratio === undefined ? '—' : fmtRatio(f.ratio),
      f.goal ?? '—',
      f.goalMet === undefined ? '—' : f.goalMet ? 'yes' : 'NO',
    ]);
    if (f.note) notes.push(`${f.bench}: ${f.name}: ${f.note}`);
  }
  return { rows, notes };
}

export function formatTable(figures: readonly Figure[]): string {
  const { rows, notes } = figureRows(figures);
  const out = [textTable(rows)];
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
  return out.join('\n');
}

/** The markdown the README's Performance section pastes: the goal table, then every figure. */
export function markdownReport(title: string, figures: readonly Figure[]): string {
  return `${title}\n\n${markdownTable(goalRows(figures))}\n\nAll figures:\n\n${markdownTable(figureRows(figures).rows)}\n`;
}
