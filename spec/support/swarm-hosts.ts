/**
 * The three-host swarm of scripts/swarm-hosts.sh: network namespaces s1..s3, each with its own
 * Docker Engine over TLS, formed into one swarm (s1 the manager) with the attachable overlay 'tfnz'.
 * Needs root.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const run = promisify(execFile);
const SCRIPT = 'scripts/swarm-hosts.sh';

/** Build the topology (idempotent); resolves with the manager's engine address. */
export async function swarmUp(): Promise<string> {
  const { stdout } = await run('bash', [SCRIPT, 'up'], { timeout: 180_000 });
  const manager = stdout.trim().split('\n').find((l) => l.startsWith('https://'));
  if (!manager) throw new Error(`${SCRIPT} up printed no manager address:\n${stdout}`);
  return manager;
}

export async function swarmDown(): Promise<void> {
  await run('bash', [SCRIPT, 'down'], { timeout: 180_000 });
}

/** `cut N`, `mend N`, `leave N`, `join N`, `drain N`, `active N` on host N (1-3). */
export async function swarmHost(action: 'cut' | 'mend' | 'leave' | 'join' | 'drain' | 'active', n: number): Promise<void> {
  await run('bash', [SCRIPT, action, String(n)], { timeout: 60_000 });
}

/** Host N's engine through its unix socket (reachable even while its link is cut). */
export function hostEngine(n: number): Docker {
  return new Docker({ socketPath: `/run/tfnz-swarm/s${n}.sock` });
}

/** The overlay's range (scripts/swarm-hosts.sh): 10.255.192.0/20. */
export const OVERLAY_RANGE = /^10\.255\.(19[2-9]|20[0-7])\.\d+$/;
