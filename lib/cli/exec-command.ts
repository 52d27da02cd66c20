/**
 * `tfnz exec [-i] [-t] ID COMMAND...`: run a command in a container of yours, whichever session
 * holds it, as `docker exec`: -i feeds it stdin, -t gives it a pty; its exit code is tfnz's.
 */
import { Location } from '../client/location';
import { BadRequest } from '../protocol';
import type { LocationOption } from './output';
import { connectTerminal, terminalSize } from './terminal';

export interface ExecCommandOptions extends LocationOption {
  interactive?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
  env: string[];
}

export async function execCommand(key: string, command: string[], opts: ExecCommandOptions): Promise<void> {
  const env = Object.fromEntries(opts.env.map((e) => {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new BadRequest(`-e wants NAME=value (got '${e}')`);
    return [e.slice(0, eq), e.slice(eq + 1)];
  }));
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    const ctr = await loc.userContainer(key);
    const tty = !!opts.tty;
    const proc = ctr.spawnProcess(command, { tty, size: terminalSize(tty), user: opts.user, workdir: opts.workdir, env: opts.env.length ? env : undefined });
    // Wired at once: its output is hot, and a short command may be done before `started` resolves here.
    process.exitCode = await connectTerminal(proc, { tty, stdin: !!opts.interactive });
  } finally {
    await loc.disconnect();
  }
}
