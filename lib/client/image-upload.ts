/**
 * Uploading an image from the user's Docker Engine to the location's cache, only what it lacks:
 * ask which layers (and whether the config) are missing; if any, `docker save` the image once,
 * keeping (in a temporary directory) only the layers the location asked for, each hashed on the
 * way; send each with the same credit window as `put`; then record the image under its name for
 * this user. The location checks every layer's sha256 and size before it keeps it.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import {
  EngineError, FILE_CHUNK_BYTES, ImageNotFound, TfnzError,
} from '../protocol';
import type { SessionContext } from './session-context';
import type { LocalEngine, LocalImage } from './local-engine';
import { readSaveArchive, type SpooledLayer } from '../shared/save-archive';
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
): Promise<{ config: Uint8Array; layers: SpooledLayer[] }> {
  const { config, layers: found } = await readSaveArchive(() => engine.save(local.id), {
    imageId: local.id,
    // Where the layout names a blob's digest only wanted blobs are spooled; a `layer.tar` is
    // spooled while some wanted layer is still missing, and kept if hashing shows it wanted.
    spool: (named, found) => (named === undefined || wanted.has(named)) && wanted.size > found.size,
    keep: (layer) => wanted.has(layer),
    spoolPath: () => join(dir, `${nanoid(8)}.tar`),
    feature: 'uploading a local image',
    signal,
  }).catch((err: unknown) => {
    if (err instanceof TfnzError) throw err;
    throw new EngineError(`could not export image ${local.id.slice(0, 19)}… from the local Docker Engine: ${(err as Error).message}`);
  });
  if (!config) throw new EngineError(`the local Docker Engine's export of ${local.id.slice(0, 19)}… has no config`);
  const absent = [...wanted].filter((l) => !found.has(l));
  if (absent.length) throw new EngineError(`the local Docker Engine's export lacks layer ${absent[0].slice(0, 19)}…`);
  // In the image's order, so the bottom layers are cached first.
  return { config, layers: local.layers.filter((l, i) => wanted.has(l) && local.layers.indexOf(l) === i).map((l) => found.get(l)!) };
}

/** Send one spooled layer under the credit window; resolves once the location verified and kept it. */
async function sendLayer(ctx: SessionContext, layer: SpooledLayer, onAcked: (bytes: number) => void): Promise<void> {
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
