/**
 * Persistent volumes on a Docker Engine: named Docker volumes carrying tfnz labels. Copying one
 * volume's content into another (snapshot, rollback) streams a tar out of one stopped carrier
 * container and into another, through the archive endpoints: nothing runs, and no image of the
 * user's is needed — the carriers come from a scratch image imported once (an empty tar).
 */
import type Docker from 'dockerode';
import { Readable } from 'node:stream';
import { EngineError } from '../protocol';
import { dockerCall } from './docker-streams';
import type { LabelledVolume } from './engine';

const SCRATCH_IMAGE = 'tfnz-scratch:1';
const MOUNT = '/volume';

export async function createDockerVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  await dockerCall(() => docker.createVolume({ Name: name, Labels: labels }), `creating volume ${name}`);
}

/** Remove a volume; a volume already gone is not an error. Returns false while containers use it. */
export async function removeDockerVolume(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).remove();
    return true;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) return true;
    if (status === 409) return false;
    throw new EngineError(`Docker Engine failed while removing volume ${name}: ${(err as Error).message}`);
  }
}

export async function listDockerVolumes(docker: Docker, labels: Record<string, string>): Promise<LabelledVolume[]> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  const found = await dockerCall(() => docker.listVolumes({ filters }), 'listing volumes');
  return (found.Volumes ?? []).map((v) => ({ name: v.Name, labels: (v.Labels as Record<string, string> | null) ?? {} }));
}

/** Names of the containers (running or not) that mount the volume. */
export async function dockerVolumeUsers(docker: Docker, name: string, runningOnly: boolean): Promise<string[]> {
  const found = await dockerCall(() => docker.listContainers({ all: !runningOnly, filters: { volume: [name] } }), 'listing containers');
  return found.map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id);
}

/** Replace the content of volume `to` with the content of volume `from`. `to` must be unused. */
export async function copyDockerVolume(docker: Docker, from: string, to: string, labels: Record<string, string>): Promise<void> {
  await ensureScratchImage(docker);
  const carrier = (volume: string) =>
    dockerCall(
      () =>
        docker.createContainer({
          Image: SCRATCH_IMAGE, Cmd: ['none'], Labels: labels, NetworkDisabled: true,
          HostConfig: { Binds: [`${volume}:${MOUNT}`] },
        }),
      'creating a carrier container',
    );
  const source = await carrier(from);
  const target = await carrier(to);
  try {
    const tarball = (await dockerCall(() => source.getArchive({ path: `${MOUNT}/.` }), `reading volume ${from}`)) as NodeJS.ReadableStream;
    await dockerCall(() => target.putArchive(tarball, { path: MOUNT }), `writing volume ${to}`);
  } finally {
    await Promise.all([source.remove({ force: true }), target.remove({ force: true })].map((p) => p.catch(() => undefined)));
  }
}

async function ensureScratchImage(docker: Docker): Promise<void> {
  try {
    await docker.getImage(SCRATCH_IMAGE).inspect();
    return;
  } catch {
    // import it below
  }
  // An empty tar archive is two 512-byte zero blocks: an image with no files at all.
  const [repo, tag] = SCRATCH_IMAGE.split(':');
  const stream = await dockerCall(() => docker.importImage(Readable.from([Buffer.alloc(1024)]) as unknown as string, { repo, tag }), 'importing the scratch image');
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream as NodeJS.ReadableStream, (err) => (err ? reject(err) : resolve())));
}

