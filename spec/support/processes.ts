/** Child processes for specs that need a real crash: the `tfnz` command, examples. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TFNZ } from './tfnz-cli';

const TSX = ['--import', 'tsx'];

/**
 * Start `tfnz location` (the built CLI where current: see tfnz-cli.ts) in its own process; resolves
 * with its URL once it listens. Plain ws:// (as on any loopback address) unless `tls`: then wss://
 * with the certificate made in its cache dir.
 */
export async function startLocationProcess(name: string, extra: string[] = [], port = 0, { tls = false, env = {} }: { tls?: boolean; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(TFNZ[0], [...TFNZ.slice(1), 'location', '--listen', `127.0.0.1:${port}`, '--name', name, '-q', '--http-port', '0', '--https-port', '0', ...(extra.includes('--authorized-keys') ? [] : ['--open']), ...(tls ? ['--tls'] : []), ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env },
  });
  const url = await firstLine(child);
  return { child, url };
}

/** Run a TypeScript file with tsx; output is captured line by line. */
export function runScript(file: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...TSX, file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      rl.close();
      resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before printing anything`)));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** SIGTERM `child` unless it is gone already, and resolve once it has exited (a spec's `after`). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await exited(child);
}
