/**
 * Uploading an image from the user's Docker Engine to the location's cache, only what it lacks:
 * ask which layers (and whether the config) are missing; if any, read `docker save` of the image
 * once and send each missing layer as it comes out of the export, with the same credit window as
 * `put`, so exporting, sending and the location's writing overlap; then record the image under
 * its name for this user. The location checks every layer's sha256 and size before it keeps it.
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
import { spoolLayer, walkSaveArchive, type SaveArchiveLayer } from '../shared/save-archive';
import { gatherChunks } from '../shared/gather-chunks';
import { sendTransfer } from './file-transfer';

/** Where an upload is: exporting from the local engine, sending layers, or done. */
export interface UploadProgress {
  image: string;
  phase: 'exporting' | 'uploading' | 'done';
  /**
   * Layer bytes the location has stored of `bytesTotal`: the sizes of the missing layers whose
   * export has begun (layers are sent as they are exported, so it grows layer by layer).
   */
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
    const exported = await sendMissingLayers(ctx, engine, local, missing, configMissing, progress, onProgress, signal);
    config = configMissing ? exported : undefined;
  }
  await ctx.connection.request('put_image_description', { name: image, id: local.id, layers: local.layers, config });
  onProgress({ ...progress, phase: 'done' });
  return local.layers;
}

/**
 * One pass over `docker save`: each missing layer goes to the location as it is exported; returns
 * the image config. Docker 25+ saves the OCI layout, `blobs/sha256/<digest>`, where a layer's
 * digest is its diff id, so a wanted layer is known by its name and streamed. Docker ≤ 24 saves
 * `<hex>.json` (the config) and `<v1 id>/layer.tar`, named only when its json says it is the
 * bottom or the top of the stack (#17: then streamed, and loaded into a node as it arrives);
 * the diff id of one between them is known only once hashed:
 * when every layer is missing (a first upload) each is streamed all the same and the location
 * names it by what arrived; otherwise each is spooled to a temporary file while hashed, and sent
 * from there only if it is one the location lacks.
 */
async function sendMissingLayers(
  ctx: SessionContext, engine: LocalEngine, local: LocalImage, missing: string[], configMissing: boolean,
  progress: UploadProgress, onProgress: (p: UploadProgress) => void, signal?: AbortSignal,
): Promise<Uint8Array> {
  const wanted = new Set(missing);
  const sent = new Set<string>();
  // A v1 layer.tar is surely wanted when all are (and no layer repeats, which would send it twice).
  const everyLayerWanted = local.layers.every((l) => wanted.has(l)) && new Set(local.layers).size === local.layers.length;
  let sendFailure: unknown;
  let spoolDir: string | undefined;
  const send = async (layer: string | undefined, size: number, chunks: AsyncIterable<Uint8Array>) => {
    if (layer) sent.add(layer);
    progress.phase = 'uploading';
    progress.bytesTotal += size;
    onProgress({ ...progress });
    const before = progress.bytesDone;
    await sendLayer(ctx, layer, size, chunks, (acked) => {
      progress.bytesDone = before + acked;
      onProgress({ ...progress });
    });
    progress.layersDone++;
    onProgress({ ...progress });
  };
  /** A v1 layer.tar, not all layers missing: hashed into a spool file, sent from it if wanted. */
  const spoolThenSend = async (entry: NodeJS.ReadableStream, size: number) => {
    spoolDir ??= await mkdtemp(join(tmpdir(), 'tfnz-upload-'));
    const path = join(spoolDir, `${nanoid(8)}.tar`);
    try {
      const layer = await spoolLayer(entry, path);
      if (!wanted.has(layer) || sent.has(layer)) return;
      const file = createReadStream(path, { highWaterMark: FILE_CHUNK_BYTES });
      try {
        await send(layer, size, file as AsyncIterable<Buffer>);
      } finally {
        file.destroy();
      }
    } finally {
      await rm(path, { force: true });
    }
  };
  const onLayer = async ({ named, size, stream }: SaveArchiveLayer) => {
    if (named !== undefined) {
      if (wanted.has(named) && !sent.has(named)) await send(named, size, stream);
    } else if (sent.size < wanted.size) {
      await (everyLayerWanted ? send(undefined, size, stream) : spoolThenSend(stream, size));
    }
  };
  let config: Buffer | undefined;
  try {
    ({ config } = await walkSaveArchive(() => engine.save(local.id), {
      imageId: local.id,
      layers: local.layers,
      feature: 'uploading a local image',
      signal,
      // Every missing layer verified and the config read: the rest of the export is not waited for.
      enough: () => (everyLayerWanted ? progress.layersDone === local.layers.length : [...wanted].every((l) => sent.has(l))),
      // #17: the location can load the image into a node that has every layer it lacked before the
      // last layers arrive (image_config); only while layers are still to come.
      onConfig: (data) => {
        if (configMissing && progress.layersDone < missing.length) ctx.connection.send('image_config', { id: local.id, config: data });
      },
      onLayer: (layer) => onLayer(layer).catch((err: unknown) => {
        sendFailure ??= err;
        throw err;
      }),
    }));
  } catch (err) {
    // The location's refusal (quota, a corrupt layer, a lost connection) says more than the export's end.
    if (sendFailure instanceof TfnzError) throw sendFailure;
    throw new EngineError(`could not export image ${local.id.slice(0, 19)}… from the local Docker Engine: ${(err as Error).message}`);
  } finally {
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
  if (!config) throw new EngineError(`the local Docker Engine's export of ${local.id.slice(0, 19)}… has no config`);
  const absent = everyLayerWanted ? local.layers.length - progress.layersDone : [...wanted].filter((l) => !sent.has(l)).length;
  if (absent > 0) throw new EngineError(`the local Docker Engine's export of ${local.id.slice(0, 19)}… lacks ${absent} of its layers`);
  return config;
}

/**
 * Send one layer under the credit window: raw on a data connection of its own when the location
 * offers one (#17: no framing, no WebSocket masking, only the copies the kernel makes; resumed on a
 * new one when it breaks), else in file_data frames of FILE_CHUNK_BYTES. Resolves once the location
 * verified and kept it. `layer` undefined: the location names it by its sha256.
 */
async function sendLayer(
  ctx: SessionContext, layer: string | undefined, size: number, chunks: AsyncIterable<Uint8Array>, onAcked: (bytes: number) => void,
): Promise<void> {
  const transfer = nanoid();
  const dial = size > 0 ? ctx.dialData : undefined;
  await sendTransfer(ctx, {
    transfer,
    what: `uploading layer ${layer?.slice(0, 19) ?? 'of the image'}…`,
    open: () => ctx.connection.request('upload_layer', { transfer, ...(layer ? { layer } : {}), size, ...(dial ? { link: true } : {}) }),
    chunks: gatherChunks(chunks, FILE_CHUNK_BYTES),
    onAcked,
    link: dial && {
      // Refused or unreachable: the bytes go as file_data, which the location takes until a data connection comes.
      dial: async (opened) => {
        const { conn, secret } = opened as { conn?: number; secret?: Uint8Array };
        return conn !== undefined && secret ? dial(conn, secret, 0).catch(() => undefined) : undefined;
      },
      chunks,
    },
  });
}
