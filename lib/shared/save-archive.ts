/**
 * Reading a `docker save` archive in one pass, for an upload (client) and a built image (server):
 * the image's config in memory, and the layers the caller wants spooled to files, each hashed on
 * the way so its digest (the diff id) is known without trusting a name.
 * tar-stream is an optional peer dependency, loaded on demand.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { commonJsExports, importOptional } from './optional-dependency';

/** A layer spooled to a file: its diff id (sha256 of the layer tar), where it is, and its size. */
export interface SpooledLayer {
  layer: string;
  path: string;
  size: number;
}

export interface SaveArchiveOptions {
  /** The image whose config to keep (`sha256:<hex>`). */
  imageId: string;
  /**
   * Whether to spool a layer entry. `named` is its digest where the layout names it (Docker 25+,
   * OCI `blobs/sha256/<hex>`) or undefined where only hashing tells (Docker ≤ 24 `<v1 id>/layer.tar`);
   * `found` is what was kept so far.
   */
  spool(named: string | undefined, found: ReadonlyMap<string, SpooledLayer>): boolean;
  /** Whether to keep a spooled layer once its digest is known (a repeat is never kept twice). */
  keep(layer: string): boolean;
  /** A fresh file path to spool the next layer to. */
  spoolPath(): string;
  /** What the archive is read for, named in MissingDependency when tar-stream is not installed. */
  feature: string;
  signal?: AbortSignal;
}

const BLOB = /^blobs\/sha256\/[0-9a-f]{64}$/;

/**
 * Open the archive (once tar-stream is known to be there) and read it to its end. Resolves with the config (undefined if the archive has none) and the
 * kept layers by digest, whose files are the caller's from then on; on failure every file spooled
 * is removed before the error is thrown.
 */
export async function readSaveArchive(
  open: () => Promise<NodeJS.ReadableStream>,
  options: SaveArchiveOptions,
): Promise<{ config: Buffer | undefined; layers: Map<string, SpooledLayer> }> {
  const hex = options.imageId.slice('sha256:'.length);
  // Docker ≤ 24 saves the config as `<hex>.json`; Docker 25+ (OCI) as the blob `blobs/sha256/<hex>`.
  const configNames = [`${hex}.json`, `blobs/sha256/${hex}`];
  const layers = new Map<string, SpooledLayer>();
  const spooled = new Set<string>();
  let config: Buffer | undefined;
  const tar = commonJsExports(await importOptional(() => import('tar-stream'), ['tar-stream'], options.feature));
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown) => (err ? extract.destroy(err as Error) : next());
    const isConfig = configNames.includes(header.name);
    const named = BLOB.test(header.name) && !isConfig ? `sha256:${header.name.slice(-64)}` : undefined;
    const isLayer = header.type === 'file' && (header.name.endsWith('/layer.tar') || named !== undefined);
    if (isConfig) {
      const parts: Buffer[] = [];
      stream.on('data', (c) => parts.push(c as Buffer));
      stream.on('end', () => {
        config = Buffer.concat(parts);
        done();
      });
      stream.on('error', done);
    } else if (isLayer && options.spool(named, layers)) {
      const path = options.spoolPath();
      spooled.add(path);
      const hash = createHash('sha256');
      const hashing = new Transform({ transform(chunk, _enc, cb) { hash.update(chunk); cb(null, chunk); } });
      pipeline(stream, hashing, createWriteStream(path, { mode: 0o600 })).then(async () => {
        const layer = `sha256:${hash.digest('hex')}`;
        if (options.keep(layer) && !layers.has(layer)) layers.set(layer, { layer, path, size: header.size ?? 0 });
        else {
          spooled.delete(path);
          await rm(path, { force: true });
        }
      }).then(() => done(), done);
    } else {
      stream.on('end', () => done());
      stream.on('error', done);
      stream.resume();
    }
  });
  const abort = () => extract.destroy(new Error('aborted'));
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await pipeline(await open(), extract);
    return { config, layers };
  } catch (err) {
    await Promise.all([...spooled].map((path) => rm(path, { force: true })));
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
