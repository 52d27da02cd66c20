/**
 * Reading a `docker save` archive in one pass, for an upload (client) and a built image (server):
 * the image's config in memory, and each layer entry to the caller (walkSaveArchive), or the
 * layers the caller wants spooled to files (readSaveArchive), each hashed on the way so its digest
 * (the diff id) is known without trusting a name.
 * tar-stream is an optional peer dependency, loaded on demand.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, fdatasync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { flushBehind } from './flush-behind';
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

/** A layer entry of a `docker save` archive, handed to `onLayer` by walkSaveArchive. */
export interface SaveArchiveLayer {
  /**
   * Its digest where the layout names it (Docker 25+, OCI `blobs/sha256/<hex>`: any blob but the
   * config, so perhaps not a layer) or its json places it (Docker <= 24, the bottom or top of the
   * walk's `layers`), or undefined where only hashing tells (a Docker <= 24 `<v1 id>/layer.tar` between them).
   */
  named: string | undefined;
  size: number;
  /** Its bytes; whatever `onLayer` leaves unread is skipped. */
  stream: NodeJS.ReadableStream & AsyncIterable<Uint8Array>;
}

export interface SaveArchiveWalk {
  /** The image whose config to keep (`sha256:<hex>`). */
  imageId: string;
  /**
   * The image's diff ids, bottom first, when known: a Docker <= 24 `<v1 id>/layer.tar` that is the
   * stack's bottom or top is then named (v1LayerPosition), so that it needs no hashing to be known.
   */
  layers?: readonly string[];
  /** Each layer entry in archive order; the walk goes on once it resolves, and stops on its rejection. */
  onLayer(layer: SaveArchiveLayer): Promise<void>;
  /** The image's config, as soon as the archive gave it (it comes anywhere among the layers). */
  onConfig?(config: Buffer): void;
  /** What the archive is read for, named in MissingDependency when tar-stream is not installed. */
  feature: string;
  signal?: AbortSignal;
  /**
   * Whether the walk has all it reads the archive for, asked once the config is known and after
   * each entry: the walk then ends without reading the rest (#17: Docker <= 24 ends its export's
   * response only after it removed its staging directory, ~0.2-0.3 s after the last entry).
   */
  enough?(): boolean;
}

/**
 * Read a `docker save` archive once (opened once tar-stream is known to be there): the image's
 * config is kept in memory, each layer entry goes to `onLayer`, the rest is skipped. Resolves with
 * the config (undefined if the archive has none); rejects with `onLayer`'s error or the archive's.
 */
export async function walkSaveArchive(open: () => Promise<NodeJS.ReadableStream>, walk: SaveArchiveWalk): Promise<{ config: Buffer | undefined }> {
  const hex = walk.imageId.slice('sha256:'.length);
  // Docker <= 24 saves the config as `<hex>.json`; Docker 25+ (OCI) as the blob `blobs/sha256/<hex>`.
  const configNames = [`${hex}.json`, `blobs/sha256/${hex}`];
  let config: Buffer | undefined;
  const tar = commonJsExports(await importOptional(() => import('tar-stream'), ['tar-stream'], walk.feature));
  const extract = tar.extract();
  /** Where each v1 layer directory sits in the stack, from its `json` (which the archive has before its layer.tar). */
  const positions = new Map<string, number>();
  /** The walk had enough (walk.enough) and ended the archive itself. */
  let ended = false;
  extract.on('entry', (header, stream, next) => {
    const entry = stream as unknown as SaveArchiveLayer['stream'];
    const isConfig = configNames.includes(header.name);
    const v1 = V1_ENTRY.exec(header.name);
    const position = v1?.[2] === 'layer.tar' ? positions.get(v1[1]) : undefined;
    const named = BLOB.test(header.name) && !isConfig ? `sha256:${header.name.slice(-64)}` : position !== undefined ? walk.layers?.[position] : undefined;
    const isLayer = header.type === 'file' && (header.name.endsWith('/layer.tar') || named !== undefined);
    const small = async () => {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(Buffer.from(c));
      return Buffer.concat(parts);
    };
    const handled = isConfig
      ? small().then((data) => {
          config = data;
          walk.onConfig?.(data);
        })
      : v1?.[2] === 'json' && walk.layers && (header.size ?? 0) <= MAX_V1_JSON_BYTES
        ? small().then((data) => {
            const at = v1LayerPosition(data, walk.layers!.length);
            if (at !== undefined) positions.set(v1[1], at);
          })
        : isLayer
        ? walk.onLayer({ named, size: header.size ?? 0, stream: entry }).then(() => drain(entry))
        : drain(entry);
    handled.then(
      () => {
        if (config && walk.enough?.()) {
          ended = true;
          return void extract.destroy();
        }
        next();
      },
      (err: unknown) => extract.destroy(err as Error),
    );
  });
  const abort = () => extract.destroy(new Error('aborted'));
  walk.signal?.addEventListener('abort', abort, { once: true });
  try {
    // Ending early destroys the export's response too (pipeline does), so the engine stops sending.
    await pipeline(await open(), extract).catch((err: unknown) => {
      if (!ended) throw err;
    });
    return { config };
  } finally {
    walk.signal?.removeEventListener('abort', abort);
  }
}

const V1_ENTRY = /^([0-9a-f]{64})\/(json|layer\.tar)$/;
const MAX_V1_JSON_BYTES = 1024 * 1024;

/**
 * Where a Docker <= 24 v1 layer directory's layer sits among `count`, told by its `json` as Docker's
 * save writes it: only the bottom layer has no `parent`, and only the top one carries the image's
 * `config`. Undefined for a layer between them, or a json that says neither.
 */
export function v1LayerPosition(json: Buffer, count: number): number | undefined {
  let v1: { parent?: unknown; config?: unknown };
  try {
    v1 = JSON.parse(json.toString('utf8')) as typeof v1;
  } catch {
    return undefined;
  }
  if (typeof v1 !== 'object' || v1 === null) return undefined;
  const bottom = v1.parent === undefined;
  const top = typeof v1.config === 'object' && v1.config !== null;
  if (bottom && (count === 1 || !top)) return 0;
  if (top && !bottom) return count - 1;
  return undefined;
}

const datasync = promisify(fdatasync);

/** Read what is left of an entry, so the archive moves on to the next. */
async function drain(entry: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of entry) {
    // skipped
  }
}

/**
 * Write a layer's bytes to `path`, hashing them on the way; resolves with its digest (its diff id).
 * `keep`: the file outlives this process's use of it (a cache), so it is flushed as it is written
 * (flush-behind.ts); a spool file read back and removed at once is left to the kernel.
 */
export async function spoolLayer(stream: NodeJS.ReadableStream, path: string, keep = false): Promise<string> {
  const hash = createHash('sha256');
  const file = createWriteStream(path, { mode: 0o600 });
  let fd: number | undefined;
  file.once('open', (opened: number) => (fd = opened));
  const flush = keep ? flushBehind(() => (fd === undefined ? Promise.resolve() : datasync(fd))) : undefined;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      flush?.wrote(chunk.length);
      cb(null, chunk);
    },
    // The file closes after this: no flush may still be running on its descriptor then.
    flush(cb) {
      void (flush?.settled() ?? Promise.resolve()).then(() => cb());
    },
  });
  await pipeline(stream, hashing, file);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Read the archive to its end (walkSaveArchive), spooling the layers the caller wants. Resolves
 * with the config (undefined if the archive has none) and the kept layers by digest, whose files
 * are the caller's from then on; on failure every file spooled is removed before the error is thrown.
 */
export async function readSaveArchive(
  open: () => Promise<NodeJS.ReadableStream>,
  options: SaveArchiveOptions,
): Promise<{ config: Buffer | undefined; layers: Map<string, SpooledLayer> }> {
  const layers = new Map<string, SpooledLayer>();
  const spooled = new Set<string>();
  try {
    const { config } = await walkSaveArchive(open, {
      imageId: options.imageId,
      feature: options.feature,
      signal: options.signal,
      onLayer: async ({ named, size, stream }) => {
        if (!options.spool(named, layers)) return;
        const path = options.spoolPath();
        spooled.add(path);
        const layer = await spoolLayer(stream, path, true);
        if (options.keep(layer) && !layers.has(layer)) layers.set(layer, { layer, path, size });
        else {
          spooled.delete(path);
          await rm(path, { force: true });
        }
      },
    });
    return { config, layers };
  } catch (err) {
    await Promise.all([...spooled].map((path) => rm(path, { force: true })));
    throw err;
  }
}
