/** #20: a process in a container wired to this terminal (tfnz run -i/-t, tfnz exec), and docker's exit codes. */
import type { Process, ProcessHost } from '../client/process';

/** Docker's exit code for an error of the command line tool itself (not of the container). */
export const EXIT_TFNZ_ERROR = 125;

/**
 * The exit code for an error, as docker's: 126 a command that cannot be run, 127 one that is not
 * there (the engine says so when the container's command is missing), else 125.
 */
export function exitCodeFor(err: Error): number {
  if (/executable file not found|no such file or directory/i.test(err.message) && /exec|start/i.test(err.message)) return 127;
  if (/permission denied/i.test(err.message) && /exec|start/i.test(err.message)) return 126;
  return EXIT_TFNZ_ERROR;
}

/** This terminal's size, when a pty is asked for and stdout is a terminal. */
export function terminalSize(tty: boolean): { cols: number; rows: number } | undefined {
  const term = process.stdout;
  return tty && term.isTTY ? { cols: term.columns, rows: term.rows } : undefined;
}

/**
 * Print `proc`'s output here; with `stdin`, feed it this program's stdin (ended when ours ends);
 * with `tty` and a terminal, raw keys (Ctrl-C included) go to it and its pty follows this
 * terminal's size. Resolves with its exit code, with this terminal restored.
 */
export async function connectTerminal<H extends ProcessHost>(proc: Process<H>, opts: { tty: boolean; stdin: boolean }): Promise<number> {
  const term = process.stdout;
  proc.output$.subscribe((b) => process.stdout.write(b));
  proc.stderr$.subscribe((b) => process.stderr.write(b));
  if (!opts.stdin) proc.closeStdin();
  const rawMode = opts.stdin && opts.tty && process.stdin.isTTY;
  if (rawMode) process.stdin.setRawMode(true);
  const onData = (b: Buffer) => proc.stdin(b);
  const onEnd = () => proc.closeStdin();
  const onResize = () => proc.resize(term.columns, term.rows);
  if (opts.stdin) process.stdin.on('data', onData).once('end', onEnd);
  if (opts.tty && term.isTTY) term.on('resize', onResize);
  try {
    return await proc.wait();
  } finally {
    process.stdin.off('data', onData).off('end', onEnd).pause();
    term.off('resize', onResize);
    if (rawMode) process.stdin.setRawMode(false);
  }
}
