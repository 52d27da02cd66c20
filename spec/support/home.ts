/** A tfnz home of a spec's own (TFNZ_HOME), so accounts and pins made by a spec stay its own. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Location, type ConnectOptions } from '../../lib/index';
import { ensureAccount } from '../../lib/client/accounts';

export function freshHome(label: string): string {
  return mkdtempSync(join(tmpdir(), `tfnz-${label}-`));
}

/** Run `fn` with TFNZ_HOME set to `home` (restored afterwards, also when it throws). */
export async function inHome<T>(home: string, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env.TFNZ_HOME;
  process.env.TFNZ_HOME = home;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TFNZ_HOME;
    else process.env.TFNZ_HOME = saved;
  }
}

/**
 * Connect to the location at `url` as a user of a spec's own: a fresh TFNZ_HOME (labelled `user`)
 * holding an account for that location. The caller removes `home` when done.
 */
export async function connectAsFreshUser(url: string, user: string, opts: ConnectOptions = {}): Promise<{ loc: Location; home: string }> {
  const home = freshHome(user);
  const loc = await inHome(home, () => {
    ensureAccount(url);
    return Location.connect({ location: url, quiet: true, ...opts });
  });
  return { loc, home };
}
