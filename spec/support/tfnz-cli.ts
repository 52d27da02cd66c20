/** The `tfnz` command as a user runs it, from the source tree. */
import { spawn } from 'node:child_process';

export const TFNZ = [process.execPath, '--import', 'tsx', 'lib/cli/main.ts'];

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
