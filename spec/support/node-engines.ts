/**
 * Extra Docker Engines on this machine, one per node, through scripts/start-node-engine.sh:
 * own socket, data root, exec root and bridge each. Needs root (as the default engine does).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { processIsGone } from '../../lib/server/reaper';

const run = promisify(execFile);
const SCRIPT = 'scripts/start-node-engine.sh';

export const nodeEngineAddress = (n: number) => `unix:///run/tfnz/node${n}.sock`;

/** A Docker client of engine N, to check what reached the node. */
export const nodeEngineDocker = (n: number) => new Docker({ socketPath: nodeEngineAddress(n).slice('unix://'.length) });

/** Start engine N (idempotent); resolves with its address once it answers and has busybox. */
export async function startNodeEngine(n: number): Promise<string> {
  const { stdout } = await run('bash', [SCRIPT, String(n)], { timeout: 120_000 });
  return stdout.trim().split('\n').pop()!;
}

/** SIGKILL engine N's dockerd: the node vanishes as if its machine died. */
export async function killNodeEngine(n: number): Promise<void> {
  await run('bash', [SCRIPT, String(n), 'kill'], { timeout: 60_000 });
}

/** Remove every container on engine N and stop it (starting it first if it was killed). */
export async function stopNodeEngine(n: number): Promise<void> {
  await run('bash', [SCRIPT, String(n), 'stop'], { timeout: 120_000 });
}

const CLAIMS = '/run/tfnz/claims';

/**
 * Engine numbers no other spec run on this machine is using (several runs may go at once): each
 * claim is a directory made atomically, holding the claimer's pid; a dead claimer's claim is reused.
 */
export function claimEngineNumbers(count: number, from = 5): number[] {
  mkdirSync(CLAIMS, { recursive: true });
  const got: number[] = [];
  for (let n = from; n <= 50 && got.length < count; n++) {
    const dir = `${CLAIMS}/${n}`;
    if (engineRuns(n)) continue; // started by hand or by another tool: not ours to stop
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        mkdirSync(dir);
        writeFileSync(`${dir}/pid`, String(process.pid));
        got.push(n);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder: string | undefined;
        try {
          holder = readFileSync(`${dir}/pid`, 'utf8');
        } catch {
          break; // being claimed right now
        }
        if (!processIsGone(holder)) break;
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  if (got.length < count) throw new Error(`could not claim ${count} engine numbers under ${CLAIMS}`);
  return got;
}

function engineRuns(n: number): boolean {
  try {
    return !processIsGone(readFileSync(`/run/tfnz/node${n}.pid`, 'utf8').trim());
  } catch {
    return false;
  }
}

export function releaseEngineNumbers(numbers: number[]): void {
  for (const n of numbers) rmSync(`${CLAIMS}/${n}`, { recursive: true, force: true });
}

/**
 * Claim `count` engine numbers and start those engines: a spec's `before`. Should one fail to
 * start, the ones started are stopped and every claim released before the error is thrown.
 */
export async function claimNodeEngines(count: number): Promise<number[]> {
  const numbers = claimEngineNumbers(count);
  try {
    for (const n of numbers) await startNodeEngine(n);
  } catch (err) {
    await releaseNodeEngines(numbers);
    throw err;
  }
  return numbers;
}

/** Stop engines started by claimNodeEngines (their containers removed) and release their numbers: a spec's `after`. */
export async function releaseNodeEngines(numbers: number[]): Promise<void> {
  try {
    for (const n of numbers) await stopNodeEngine(n);
  } finally {
    releaseEngineNumbers(numbers);
  }
}
