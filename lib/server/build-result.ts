/**
 * A built image becomes the user's as an upload does: its layers and config go into the
 * location's cache (granted to this user) and its name into the user's descriptions. So it runs
 * on any node (loaded from the cache where missing), survives a prune of the node's untagged
 * images, and no other user can spawn it, by name or by id (image-resolver.ts).
 */
import { rm } from 'node:fs/promises';
import { EngineError } from '../protocol';
import { readSaveArchive } from '../shared/save-archive';
import type { Engine } from '../engines/engine';
import type { LayerCache } from './layer-cache';

/** Save image `id` from the node that built it into the cache, and record `name` for `user`. */
export async function keepBuiltImage(cache: LayerCache, engine: Engine, user: string, name: string, id: string): Promise<void> {
  if (!engine.saveImage) throw new EngineError(`node engine ${engine.address} cannot export images`);
  const { config, layers } = await readSaveArchive(() => engine.saveImage!(id), {
    imageId: id,
    // Every layer is spooled: which of them are the image's is known from its config, at the end.
    spool: () => true,
    keep: () => true,
    spoolPath: () => cache.partialLayerPath(),
    feature: 'keeping a built image',
  });
  try {
    if (!config) throw new EngineError(`the export of built image ${id.slice(0, 19)}… has no config`);
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    const absent = diffIds.find((l) => !layers.has(l));
    if (absent) throw new EngineError(`the export of built image ${id.slice(0, 19)}… lacks layer ${absent.slice(0, 19)}…`);
    for (const layer of new Set(diffIds)) {
      const { path, size } = layers.get(layer)!;
      cache.adoptLayer(user, path, layer, size);
      layers.delete(layer);
    }
    cache.putConfig(user, id, config, diffIds);
    cache.putDescription(user, { name, id, layers: diffIds });
  } finally {
    // Blobs that are not layers of the image (OCI index and manifests) and anything left by a failure.
    await Promise.all([...layers.values()].map((l) => rm(l.path, { force: true })));
  }
}
