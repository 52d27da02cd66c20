/** A tfnz home of a spec's own (TFNZ_HOME), so accounts and pins made by a spec stay its own. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
