/** What the engine itself says, for specs that check the location's claims against Docker. */
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
