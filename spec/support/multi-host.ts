/**
 * The three-host test topology of scripts/multi-host.sh: network namespaces h1..h3, each with its
 * own Docker Engine reached over TLS across a switch namespace. Needs root.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = 'scripts/multi-host.sh';

/** Build the topology (idempotent); resolves with the engine addresses of h1, h2 and h3. */
export async function multiHostUp(): Promise<string[]> {
  const { stdout } = await run('bash', [SCRIPT, 'up'], { timeout: 120_000 });
  const addresses = stdout.trim().split('\n').filter((l) => l.startsWith('https://'));
  if (addresses.length !== 3) throw new Error(`${SCRIPT} up printed ${addresses.length} engine addresses, not 3:\n${stdout}`);
  return addresses;
}

export async function multiHostDown(): Promise<void> {
  await run('bash', [SCRIPT, 'down'], { timeout: 120_000 });
}

/** Pull host N's cable (1-3): its engine keeps running but nothing reaches it. */
export async function cutHost(n: number): Promise<void> {
  await run('bash', [SCRIPT, 'cut', String(n)], { timeout: 30_000 });
}

export async function mendHost(n: number): Promise<void> {
  await run('bash', [SCRIPT, 'mend', String(n)], { timeout: 30_000 });
}

/** Host N's default bridge: 10.253.(16N).0/24, within its routed 10.253.(16N).0/20. */
export function hostRange(n: number): RegExp {
  return new RegExp(`^10\\.253\\.${16 * n}\\.`);
}
