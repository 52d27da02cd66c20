/**
 * Uploading an image from the user's Docker Engine to the location's cache, only what it lacks:
 * ask which layers (and whether the config) are missing; if any, `docker save` the image once,
 * keeping (in a temporary directory) only the layers the location asked for, each hashed on the
 * way; send each with the same credit window as `put`; then record the image under its name for
 * this user. The location checks every layer's sha256 and size before it keeps it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { nanoid } from 'nanoid';
import {
  EngineError, FILE_CHUNK_BYTES, ImageNotFound,
} from '../protocol';
import type { SessionContext } from './session-context';
import type { LocalEngine, LocalImage } from './local-engine';
import { commonJsExports, importOptional } from '../shared/optional-dependency';
import { sendTransfer } from './file-transfer';

/** Where an upload is: exporting from the local engine, sending layers, or done. */
export interface UploadProgress {
  image: string;
  phase: 'exporting' | 'uploading' | 'done';
  /** Layer bytes the location has stored of `bytesTotal` (the missing layers' sizes, known once exported). */
  bytesDone: number;
  bytesTotal: number;
  /** Missing layers sent, of those missing. */
  layersDone: number;
  layersTotal: number;
}

interface Spooled {
  layer: string;
  path: string;
  size: number;
}

/** Make `image` (from the local engine) present in the location's cache; returns its layer digests. */
export async function uploadImage(
  ctx: SessionContext,
  engine: LocalEngine,
  image: string,
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<string[]> {
  const local = await engine.image(image);
  if (!local && engine.unavailable) throw engine.unavailable;
  if (!local) {
    throw new ImageNotFound(
      engine.address
        ? `image '${image}' is not in your local Docker Engine (${engine.address}); build it there (docker build -t ${image} .) and try again`
        : `image '${image}' cannot be uploaded: this session has no local Docker Engine (localEngine: false)`,
    );
  }
  const { missing, configMissing } = await ctx.connection.request('image_layers_missing', { id: local.id, layers: local.layers });
  const progress: UploadProgress = { image, phase: 'exporting', bytesDone: 0, bytesTotal: 0, layersDone: 0, layersTotal: missing.length };
  let config: Uint8Array | undefined;
  if (missing.length || configMissing) {
    onProgress({ ...progress });
    const dir = await mkdtemp(join(tmpdir(), 'tfnz-upload-'));
    try {
      const exported = await exportLayers(engine, local, new Set(missing), dir, signal);
      config = configMissing ? exported.config : undefined;
      progress.phase = 'uploading';
      progress.bytesTotal = exported.layers.reduce((sum, l) => sum + l.size, 0);
      onProgress({ ...progress });
      for (const layer of exported.layers) {
        signal?.throwIfAborted();
        const before = progress.bytesDone;
        await sendLayer(ctx, layer, (sent) => {
          progress.bytesDone = before + sent;
          onProgress({ ...progress });
        });
        progress.layersDone++;
        onProgress({ ...progress });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  await ctx.connection.request('put_image_description', { name: image, id: local.id, layers: local.layers, config });
  onProgress({ ...progress, phase: 'done' });
  return local.layers;
}

/** One pass over `docker save`: the config, and the wanted layers spooled to `dir`, hashed on the way. */
async function exportLayers(
  engine: LocalEngine, local: LocalImage, wanted: Set<string>, dir: string, signal?: AbortSignal,
): Promise<{ config: Uint8Array; layers: Spooled[] }> {
  // Docker ≤ 24 saves `<hex>.json` (the config) and `<v1 id>/layer.tar`; Docker 25+ the OCI layout,
  // `blobs/sha256/<digest>`, where a layer's digest is its diff id: there only wanted blobs are kept.
  const configNames = [`${local.id.slice('sha256:'.length)}.json`, `blobs/sha256/${local.id.slice('sha256:'.length)}`];
  const blob = (name: string) => (/^blobs\/sha256\/[0-9a-f]{64}$/.test(name) ? `sha256:${name.slice(-64)}` : undefined);
  const found = new Map<string, Spooled>();
  let config: Uint8Array | undefined;
  const tar = commonJsExports(await importOptional(() => import('tar-stream'), ['tar-stream'], 'uploading a local image'));
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown) => (err ? extract.destroy(err as Error) : next());
    const blobDigest = blob(header.name);
    if (configNames.includes(header.name)) {
      const parts: Buffer[] = [];
      stream.on('data', (c) => parts.push(c as Buffer));
      stream.on('end', () => {
        config = Buffer.concat(parts);
        done();
      });
      stream.on('error', done);
    } else if ((header.name.endsWith('/layer.tar') || (blobDigest && wanted.has(blobDigest))) && wanted.size > found.size) {
      const path = join(dir, `${found.size}-${nanoid(6)}.tar`);
      const hash = createHash('sha256');
      const hashing = new Transform({ transform(chunk, _enc, cb) { hash.update(chunk); cb(null, chunk); } });
      pipeline(stream as unknown as NodeJS.ReadableStream, hashing, createWriteStream(path)).then(async () => {
        const layer = `sha256:${hash.digest('hex')}`;
        if (wanted.has(layer) && !found.has(layer)) {
          const kept = join(dir, `${layer.slice(7)}.tar`);
          await rename(path, kept);
          found.set(layer, { layer, path: kept, size: header.size ?? 0 });
        } else await rm(path, { force: true });
      }).then(() => done(), done);
    } else {
      stream.on('end', () => done());
      stream.on('error', done);
      stream.resume();
    }
  });
  const saved = await engine.save(local.id);
  signal?.addEventListener('abort', () => extract.destroy(new Error('upload aborted')), { once: true });
  try {
    await pipeline(saved, extract as unknown as NodeJS.WritableStream);
  } catch (err) {
    throw new EngineError(`could not export image ${local.id.slice(0, 19)}… from the local Docker Engine: ${(err as Error).message}`);
  }
  if (!config) throw new EngineError(`the local Docker Engine's export of ${local.id.slice(0, 19)}… has no config`);
  const absent = [...wanted].filter((l) => !found.has(l));
  if (absent.length) throw new EngineError(`the local Docker Engine's export lacks layer ${absent[0].slice(0, 19)}…`);
  // In the image's order, so the bottom layers are cached first.
  return { config, layers: local.layers.filter((l, i) => wanted.has(l) && local.layers.indexOf(l) === i).map((l) => found.get(l)!) };
}

/** Send one spooled layer under the credit window; resolves once the location verified and kept it. */
async function sendLayer(ctx: SessionContext, layer: Spooled, onAcked: (bytes: number) => void): Promise<void> {
  const transfer = nanoid();
  const file = createReadStream(layer.path, { highWaterMark: FILE_CHUNK_BYTES });
  try {
    await sendTransfer(ctx, {
      transfer,
      what: `uploading layer ${layer.layer.slice(0, 19)}…`,
      open: () => ctx.connection.request('upload_layer', { transfer, layer: layer.layer, size: layer.size }),
      chunks: file as AsyncIterable<Buffer>,
      onAcked,
    });
  } finally {
    file.destroy();
  }
}
