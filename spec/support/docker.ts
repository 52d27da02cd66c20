/** What the engine itself says, for specs that check the location's claims against Docker. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

export const docker = new Docker();

/** Names of containers (running or not) that carry the given label value. */
export async function containersLabelled(label: string, value: string): Promise<string[]> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${label}=${value}`] } });
  return found.map((c) => c.Names[0]);
}

/** Poll the engine until `check` passes or `timeoutMs` runs out; for things with no event to await. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Build `image` on the client's engine: busybox plus /marker.txt holding `marker` and /random.bin,
 * `mib` MiB of random bytes (a layer no engine holds already).
 */
export async function buildMarkedImage(image: string, marker: string, mib = 1, dockerfile = 'FROM busybox:latest\nCOPY marker.txt random.bin /\n'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tfnz-spec-image-'));
  try {
    writeFileSync(join(dir, 'marker.txt'), marker);
    writeFileSync(join(dir, 'random.bin'), randomBytes(mib * 2 ** 20));
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    await promisify(execFile)('docker', ['build', '-q', '-t', image, dir], { timeout: 120_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
