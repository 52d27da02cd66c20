/**
 * The tfnz home on this machine: $TFNZ_HOME, else ~/.tfnz. Accounts, the SSH host key, a
 * location's authorized_keys and its image cache all live under it, so the SDK, the location
 * server and the CLI each read this one rule.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function accountsDir(): string {
  return process.env.TFNZ_HOME ?? join(homedir(), '.tfnz');
}
