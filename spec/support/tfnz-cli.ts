/**
 * The `tfnz` command as a user runs it: the built dist/cli.js when `npm run build` made it from the
 * sources as they are now (CI builds before the specs), else the source tree through tsx, which
 * compiles lib/ again in every process (0.5-1 s more per command; the CLI specs run ~50 of them).
 * TFNZ_SPEC_CLI=source forces the source tree.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILT = 'dist/cli.js';

/** Whether dist/cli.js is newer than every file under lib/ (so it is built from them). */
function builtIsCurrent(): boolean {
  if (process.env.TFNZ_SPEC_CLI === 'source') return false;
  let built: number;
  try {
    built = statSync(BUILT).mtimeMs;
  } catch {
    return false;
  }
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true })
    .reduce((max, e) => Math.max(max, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  return newest('lib') <= built;
}

export const TFNZ = builtIsCurrent() ? [process.execPath, BUILT] : [process.execPath, '--import', 'tsx', 'lib/cli/main.ts'];

/**
 * Run `tfnz ARGS…` to its end (with `input` on its stdin, if given; `argv0` to run it through a
 * wrapper such as pty-run.py); its exit code and what it printed.
 */
export function tfnz(args: string[], input?: string, argv0 = TFNZ): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv0[0], [...argv0.slice(1), ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}
