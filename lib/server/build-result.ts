/**
 * A built image becomes the user's as an upload does: its layers and config go into the
 * location's cache (granted to this user) and its name into the user's descriptions. So it runs
 * on any node (loaded from the cache where missing), survives a prune of the node's untagged
 * images, and no other user can spawn it, by name or by id (image-resolver.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EngineError } from '../protocol';
import type { Engine } from '../engines/engine';
import type { LayerCache } from './layer-cache';

/** Save image `id` from the node that built it into the cache, and record `name` for `user`. */
export async function keepBuiltImage(cache: LayerCache, engine: Engine, user: string, name: string, id: string): Promise<void> {
  if (!engine.saveImage) throw new EngineError(`node engine ${engine.address} cannot export images`);
  const configName = `${id.slice('sha256:'.length)}`;
  let config: Buffer | undefined;
  const layers = new Map<string, { partial: string; size: number }>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown) => (err ? extract.destroy(err as Error) : next());
    // Docker ≤ 24: `<hex>.json` and `<v1 id>/layer.tar`; Docker 25+ (OCI): everything under blobs/sha256/.
    const isConfig = header.name === `${configName}.json` || header.name === `blobs/sha256/${configName}`;
    const isLayer = header.name.endsWith('/layer.tar') || (/^blobs\/sha256\/[0-9a-f]{64}$/.test(header.name) && !isConfig);
    if (isConfig) {
      const parts: Buffer[] = [];
      stream.on('data', (c) => parts.push(c as Buffer));
      stream.on('end', () => {
        config = Buffer.concat(parts);
        done();
      });
      stream.on('error', done);
    } else if (isLayer && header.type === 'file') {
      const partial = cache.partialLayerPath();
      const hash = createHash('sha256');
      const hashing = new Transform({ transform(chunk, _enc, cb) { hash.update(chunk); cb(null, chunk); } });
      pipeline(stream, hashing, createWriteStream(partial, { mode: 0o600 })).then(() => {
        const digest = `sha256:${hash.digest('hex')}`;
        if (layers.has(digest)) return rm(partial, { force: true });
        layers.set(digest, { partial, size: header.size ?? 0 });
      }).then(() => done(), done);
    } else {
      stream.on('end', () => done());
      stream.on('error', done);
      stream.resume();
    }
  });
  try {
    await pipeline(await engine.saveImage(id), extract);
    if (!config) throw new EngineError(`the export of built image ${id.slice(0, 19)}… has no config`);
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    const absent = diffIds.find((l) => !layers.has(l));
    if (absent) throw new EngineError(`the export of built image ${id.slice(0, 19)}… lacks layer ${absent.slice(0, 19)}…`);
    for (const layer of new Set(diffIds)) {
      const { partial, size } = layers.get(layer)!;
      cache.adoptLayer(user, partial, layer, size);
      layers.delete(layer);
    }
    cache.putConfig(user, id, config, diffIds);
    cache.putDescription(user, { name, id, layers: diffIds });
  } finally {
    // Blobs that are not layers of the image (OCI index and manifests) and anything left by a failure.
    await Promise.all([...layers.values()].map((l) => rm(l.partial, { force: true })));
  }
}
