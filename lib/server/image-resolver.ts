/**
 * Which image a spawn runs on its node, for (user, name, and the id the client's engine has, if any).
 * The node's own images are those it holds under a name (tagged: the operator built or loaded
 * them, e.g. busybox); they serve everyone. Images the location loaded from its cache are untagged
 * and serve only the users who uploaded them (layer-cache.ts grants), so knowing an id is not enough.
 *
 * - with an id: the node's own image of that name when it is that id, else the node's own image
 *   with that id, else the user's cached image with that id (loaded into the node unless there);
 *   else ImageNotFound, and the SDK uploads the image and spawns again;
 * - without: the user's cached image of that name (loaded into the node when it lacks it), else
 *   the node's own image of that name; else ImageNotFound naming the image.
 *
 * So a node that already has the image (the embedded location's node is the user's own engine)
 * needs no upload, and neither a name nor an id reaches another user's cached image.
 *
 * #19, registries (registry-images.ts): a name the node holds because it was pulled from a
 * registry serves a user only once that registry accepts the user's credentials for it (with an
 * id, it is then uploaded instead). Without an id (the client's engine lacks the image), a name
 * found nowhere is pulled by the node under policy `missing`; `always` pulls first whatever the
 * node or the client holds; `never` never pulls.
 */
import { ImageNotFound } from '../protocol';
import { parseImageReference, type ImageReference } from '../shared/registry-reference';
import { cameFromRegistry, implicitHubFailure, isImageId, RegistryImages, type RegistryRequest } from './registry-images';
import type { Engine, TaggedImage } from '../engines/engine';
import type { ImageDescription, LayerCache } from './layer-cache';
import type { ImagePreload } from './image-preload';

export class ImageResolver {
  /** Loads in progress, per engine and image id, so spawns of one image share one load. */
  private readonly loading = new Map<Engine, Map<string, Promise<void>>>();
  /** #17: loads that began while an upload arrived (image-preload.ts), per engine and image id, until they end. */
  private readonly preloads = new Map<Engine, Map<string, Promise<void>>>();
  /** Pulls and registry checks (#19). */
  readonly registries = new RegistryImages();

  constructor(private readonly cache: LayerCache) {}

  /** The image reference the node's engine runs for this spawn. */
  async resolve(engine: Engine, user: string, name: string, imageId?: string, registry: RegistryRequest = { policy: 'missing' }): Promise<string> {
    // A load of this image into this node that began during its upload: a spawn waits for it instead of loading again.
    const id = imageId ?? this.cache.description(user, name)?.id;
    const preload = id ? this.preloads.get(engine)?.get(id) : undefined;
    if (preload) await preload;
    return resolveImage(this.cache, this.loading, this.registries, engine, user, name, imageId, registry);
  }

  /** An upload is whole and `finished` ends when its nodes' loads answered: spawns on them wait for it. */
  preloading(preload: ImagePreload, finished: Promise<void>): void {
    void preload.engines().then((engines) => {
      for (const engine of engines) {
        let perEngine = this.preloads.get(engine);
        if (!perEngine) this.preloads.set(engine, (perEngine = new Map()));
        perEngine.set(preload.id, finished);
      }
      return finished.finally(() => {
        for (const engine of engines) {
          const perEngine = this.preloads.get(engine);
          if (perEngine?.get(preload.id) === finished) perEngine.delete(preload.id);
          if (perEngine?.size === 0) this.preloads.delete(engine);
        }
      });
    });
  }
}

type Loads = Map<Engine, Map<string, Promise<void>>>;

async function resolveImage(
  cache: LayerCache, loading: Loads, registries: RegistryImages, engine: Engine, user: string, name: string, imageId: string | undefined, registry: RegistryRequest,
): Promise<string> {
  const ref = reference(name);
  const pull = () => registries.pull(engine, user, ref!, registry).catch((err: unknown) => Promise.reject(implicitHubFailure(name, ref!, registry.auth, err)));
  if (registry.policy === 'always' && ref) return pull();
  if (imageId) {
    const named = await taggedImage(engine, name);
    if (named?.id === imageId && (await mayUseNodeImage(registries, engine, name, named, registry))) return name;
    const byId = await taggedImage(engine, imageId);
    if (byId && !cameFromRegistry(imageId, byId.repoDigests)) return imageId;
    const cached = cache.descriptionById(user, imageId);
    if (cached) return load(cache, loading, engine, cached);
    throw new ImageNotFound(`image '${name}' (${imageId.slice(0, 19)}…) is neither on the node nor in the location's cache; upload it with loc.ensureImageUploaded('${name}') (the SDK does this when it spawns)`);
  }
  const cached = cache.description(user, name);
  if (cached) return load(cache, loading, engine, cached);
  const named = await taggedImage(engine, name);
  if (named) {
    // Pulled from a registry: the registry decides (its refusal is the error), not possession; an
    // id names no registry to ask, so such an image is not found by id.
    if (!cameFromRegistry(name, named.repoDigests)) return name;
    if (ref) {
      await registries.checkAccess(engine, name, registry.auth);
      return name;
    }
  }
  if (registry.policy === 'never' || !ref) {
    throw new ImageNotFound(
      `image '${name}' is in neither your local Docker Engine nor the location's cache${registry.policy === 'never' ? ", and the pull policy is 'never'" : ''}; build or load it into your local engine (docker build -t ${name} . or docker load) and spawn again`,
    );
  }
  return pull();
}

/** A reference the node could pull, or undefined for an image id (or a short id). */
function reference(name: string): ImageReference | undefined {
  if (isImageId(name)) return undefined;
  try {
    return parseImageReference(name);
  } catch {
    return undefined;
  }
}

/** The image the node holds under `ref` (a name of its own), with one engine call where the engine allows. */
async function taggedImage(engine: Engine, ref: string): Promise<TaggedImage | undefined> {
  if (engine.taggedImage) return engine.taggedImage(ref);
  const id = await engine.taggedImageId(ref);
  return id ? { id, repoDigests: (await engine.imageRepoDigests?.(ref)) ?? [] } : undefined;
}

/** The node's tagged image of `name` is usable: it is the node's own, or the registry it came from agrees. */
async function mayUseNodeImage(registries: RegistryImages, engine: Engine, name: string, image: TaggedImage, registry: RegistryRequest): Promise<boolean> {
  if (!cameFromRegistry(name, image.repoDigests)) return true;
  return registries.checkAccess(engine, name, registry.auth).then(() => true, () => false);
}

/** The cached image on the node (loaded unless there already), by id. */
async function load(cache: LayerCache, loading: Loads, engine: Engine, d: ImageDescription): Promise<string> {
  if (await engine.imageId(d.id)) return d.id;
  let perEngine = loading.get(engine);
  if (!perEngine) loading.set(engine, (perEngine = new Map()));
  let pending = perEngine.get(d.id);
  if (!pending) {
    pending = loadMissing(cache, engine, d).finally(() => {
      perEngine.delete(d.id);
      if (perEngine.size === 0) loading.delete(engine); // a node that went keeps no entry
    });
    perEngine.set(d.id, pending);
  }
  await pending;
  if (!(await engine.imageId(d.id))) throw new ImageNotFound(`node engine ${engine.address} did not keep image '${d.name}' after loading it`);
  return d.id;
}

/**
 * Send the node only the layers it lacks: the bottom of the stack that one of its images already
 * has is left out of the archive. Should the engine want those files after all, load everything.
 */
async function loadMissing(cache: LayerCache, engine: Engine, d: ImageDescription): Promise<void> {
  const stacks = await engine.imageLayerStacks().catch(() => []);
  let skip = 0;
  for (const stack of stacks) {
    let k = 0;
    while (k < stack.length && k < d.layers.length && stack[k] === d.layers[k]) k++;
    skip = Math.max(skip, k);
  }
  if (skip === 0) return engine.loadImage(cache.archive(d));
  try {
    await engine.loadImage(cache.archive(d, skip));
  } catch {
    await engine.loadImage(cache.archive(d));
  }
}
