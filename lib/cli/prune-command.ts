/**
 * `tfnz location prune`: free the image cache of a location (running or not). Layers and configs
 * no description uses go, and uploads abandoned for 10 minutes; with --all every description too.
 * Running containers are untouched: they live in the node engines, not in the cache.
 */
import { LayerCache } from '../server/layer-cache';
import { defaultCacheDir } from '../server/location-server';

export interface PruneCommandOptions {
  name: string;
  cacheDir?: string;
  all?: boolean;
}

export function pruneCommand(opts: PruneCommandOptions): void {
  const dir = opts.cacheDir ?? defaultCacheDir(opts.name);
  const r = new LayerCache(dir).prune(!!opts.all);
  process.stdout.write(
    `${dir}: removed ${r.descriptions} description(s), ${r.layers} layer(s), ${r.configs} config(s), ${r.partials} abandoned upload(s); ${(r.bytes / 2 ** 20).toFixed(1)} MiB freed\n`,
  );
}
