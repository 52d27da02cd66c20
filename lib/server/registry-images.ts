/**
 * Images a node gets from a registry, for one user at a time. The node's engine pulls them itself
 * with the credentials that came with this one spawn or pull (never stored, never logged), and
 * Docker tags what it pulled. Such a tagged image must not serve every user as the node's own
 * images do (image-resolver.ts): a user runs it only after the registry accepted that user's
 * credentials for it, by a pull or by asking the registry for its manifest (no layers move).
 * Images the node has from elsewhere (built, loaded or imported under a name) are recognised by
 * having no repository digest of the repository they are asked for by, and serve everyone as before.
 */
import { ImageNotFound, RegistryUnauthorized, RegistryUnreachable, type PullPolicy, type RegistryAuth } from '../protocol';
import type { Engine } from '../engines/engine';
import type { PullReport } from '../engines/registry-pull';
import { parseImageReference, repositoryOf, type ImageReference } from '../shared/registry-reference';

/** How a spawn or pull_image may use registries: the policy, credentials for this request, where progress goes. */
export interface RegistryRequest {
  policy: PullPolicy;
  auth?: RegistryAuth;
  onProgress?: (p: PullReport) => void;
}

export class RegistryImages {
  /** Pulls in progress per engine, user and reference: one user's pull is never shared with another's. */
  private readonly pulling = new Map<string, Promise<string>>();

  /** Pull `ref` onto the engine for `user` (sharing a pull this user already has running); the image id. */
  pull(engine: Engine, user: string, ref: ImageReference, req: RegistryRequest): Promise<string> {
    if (!engine.pullImage) throw new ImageNotFound(`node engine ${engine.address} cannot pull images; load '${ref.canonical}' there yourself`);
    const key = JSON.stringify([engine.address, user, ref.canonical]);
    let running = this.pulling.get(key);
    if (!running) {
      const listeners = new Set<(p: PullReport) => void>();
      running = engine.pullImage(ref.canonical, ref.registry, req.auth, (p) => listeners.forEach((l) => l(p))).finally(() => this.pulling.delete(key));
      Object.assign(running, { listeners });
      this.pulling.set(key, running);
    }
    const listeners = (running as Promise<string> & { listeners: Set<(p: PullReport) => void> }).listeners;
    if (req.onProgress) listeners.add(req.onProgress);
    return running.finally(() => req.onProgress && listeners.delete(req.onProgress));
  }

  /**
   * Whether the node's image under `name` came from the registry `name` names (it carries a
   * repository digest of that repository): then a user needs that registry's consent to run it.
   */
  async fromRegistry(engine: Engine, name: string): Promise<boolean> {
    if (!engine.imageRepoDigests) return false;
    return cameFromRegistry(name, await engine.imageRepoDigests(name));
  }

  /** Throws the registry's typed refusal unless `auth` (or no credentials) may read `name` there. */
  async checkAccess(engine: Engine, name: string, auth: RegistryAuth | undefined): Promise<void> {
    const ref = parseImageReference(name);
    if (!engine.checkRegistryAccess) throw new RegistryUnauthorized(`node engine ${engine.address} cannot ask registry ${ref.registry} whether you may use '${name}'`);
    await engine.checkRegistryAccess(ref.canonical, ref.registry, auth);
  }
}

/** `sha256:…` or a (short) hex id: Docker reads these as image ids, not as names. */
export function isImageId(name: string): boolean {
  return /^(sha256:)?[0-9a-f]{12,64}$/.test(name);
}

/**
 * A failed pull of a Docker Hub name the user never wrote a registry for (`myapp:1`): most often a
 * local image the user has not built, so say that, as spawns did before pulls existed.
 */
export function implicitHubFailure(name: string, ref: ImageReference, auth: RegistryAuth | undefined, err: unknown): unknown {
  const implicit = ref.registry === 'docker.io' && !/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//.test(name);
  const registryFailure = err instanceof RegistryUnreachable || err instanceof ImageNotFound || (err instanceof RegistryUnauthorized && !auth);
  if (!implicit || !registryFailure) return err;
  return new ImageNotFound(
    `image '${name}' is in neither your local Docker Engine nor the location's cache, and the node could not pull it from docker.io (${(err as Error).message}); build or load it into your local engine (docker build -t ${name} . or docker load) and spawn again`,
  );
}

/** fromRegistry, for an image whose repository digests are known already. */
export function cameFromRegistry(name: string, digests: readonly string[]): boolean {
  if (digests.length === 0) return false;
  // Asked for by id: no registry can vouch for an id, so any registry origin counts.
  const repository = isImageId(name) ? undefined : repositoryOf(name);
  return !repository || digests.some((d) => repositoryOf(d.slice(0, d.indexOf('@'))) === repository);
}
