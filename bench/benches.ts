/** The suite's benchmarks in the order they run, each with its time limits (bench/run.ts). */
import type { BenchContext } from './common';
import type { Figure } from './stats';
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

export interface Bench {
  name: string;
  /** Soft budget in ms: loops inside stop early past it. */
  budgetMs: number;
  /** Hard limit in ms: past it the benchmark is reported n/a and the suite moves on. */
  hardMs: number;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export const BENCHES: Bench[] = [
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
