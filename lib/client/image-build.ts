/**
 * Building a Dockerfile on a node (#19): the SDK packs the context directory (what
 * `.dockerignore` leaves in) into a temporary tar file, asks the location which images the
 * Dockerfile starts from, and sends the Dockerfile with the ids its local engine has for them.
 * A base the node lacks is uploaded from the local engine first (as a spawn does) and the build
 * asked for again. The context then follows under the same credit window as uploads, and the
 * build's output comes back as events until it ends with the image's id.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { nanoid } from 'nanoid';
import { BadRequest, ConnectionLost, FILE_CHUNK_BYTES, ImageNotFound, errorFromWire, type EventOf, type RegistryAuth, type TfnzError } from '../protocol';
import { commonJsExports, importOptional } from '../shared/optional-dependency';
import { sendTransfer } from './file-transfer';
import type { SessionContext } from './session-context';

/** How to build: the image's name, and what `docker build`'s -f, --build-arg and --target say. */
export interface BuildOptions {
  /** The name the built image gets, yours alone at this location (e.g. `team/app:1`). */
  tag: string;
  /** The Dockerfile: a path relative to the context directory, or absolute. Default `Dockerfile`. */
  dockerfile?: string;
  /** Values for the Dockerfile's ARGs. */
  buildArgs?: Record<string, string>;
  /** Build up to this stage of a multi-stage Dockerfile. */
  target?: string;
  /** Stop the build: the context stops flowing and the location ends the build. */
  signal?: AbortSignal;
}

/** What a build reports as it goes, in order. */
export type BuildProgress =
  /** A base image is being uploaded from your local engine (see `Location.uploads$`). */
  | { type: 'base'; image: string }
  /** Bytes of the context the location has taken, of the whole. */
  | { type: 'context'; bytesDone: number; bytesTotal: number }
  /** A Dockerfile step started: `step` of `steps`, and its instruction. */
  | { type: 'step'; step: number; steps: number; instruction: string }
  /** Output text of the build (its steps' commands and the builder). */
  | { type: 'output'; text: string }
  /** The image is built and recorded under `tag`. */
  | { type: 'built'; image: string; tag: string };

/** A built image: its id and the name you spawn it by. */
export interface BuiltImage {
  id: string;
  tag: string;
}

/** Build `contextDir` on node `node`; progress goes to `onProgress`. */
export async function buildImage(
  ctx: SessionContext, node: string, contextDir: string, opts: BuildOptions, onProgress: (p: BuildProgress) => void,
): Promise<BuiltImage> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const dockerfilePath = resolve(contextDir, opts.dockerfile ?? 'Dockerfile');
  const dockerfile = await readFile(dockerfilePath).catch((err: NodeJS.ErrnoException) => {
    throw new BadRequest(`cannot read the Dockerfile ${dockerfilePath} (${err.code ?? err.message}); pass its path as { dockerfile } (tfnz build -f)`);
  });
  const buildArgs = Object.entries(opts.buildArgs ?? {});
  const { images } = await ctx.connection.request('build_bases', { dockerfile, buildArgs });
  const localImages: [string, string][] = [];
  const registryAuth: [string, RegistryAuth][] = [];
  for (const image of images) {
    const id = await ctx.localImageId(image);
    if (id) localImages.push([image, id]);
    // A base the local engine lacks may be pulled by the node: with credentials, as a spawn's image.
    const auth = id ? undefined : ctx.registryAuthFor(image);
    if (auth) registryAuth.push([image, auth]);
  }
  const dir = await mkdtemp(join(tmpdir(), 'tfnz-build-'));
  try {
    const archive = join(dir, 'context.tar');
    await packContext(contextDir, archive, signal);
    const size = (await stat(archive)).size;
    const ask = () => buildOnce(ctx, { node, dockerfile, buildArgs, localImages, registryAuth, opts, archive, size }, onProgress);
    try {
      return await ask();
    } catch (err) {
      // A base the node lacks and the location has not cached: upload those the local engine has, once.
      if (!(err instanceof ImageNotFound) || localImages.length === 0) throw err;
      for (const [image] of localImages) {
        onProgress({ type: 'base', image });
        await ctx.ensureUploaded(image);
      }
      return await ask();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface BuildRequest {
  node: string;
  dockerfile: Buffer;
  buildArgs: [string, string][];
  localImages: [string, string][];
  registryAuth: [string, RegistryAuth][];
  opts: BuildOptions;
  archive: string;
  size: number;
}

/** One build_image: send the context, follow the output, resolve with the image once it is recorded. */
async function buildOnce(ctx: SessionContext, r: BuildRequest, onProgress: (p: BuildProgress) => void): Promise<BuiltImage> {
  const build = nanoid();
  const transfer = nanoid();
  const { tag, target, signal } = r.opts;
  let settle!: { resolve(image: string): void; reject(err: Error): void };
  const ended = new Promise<string>((res, rej) => (settle = { resolve: res, reject: rej }));
  ended.catch(() => undefined);
  const sub = ctx.events.of('build', build).subscribe({
    next: (e: EventOf<'build_output' | 'build_end'>) => {
      if (e.event === 'build_output') {
        const { text, step } = e.params;
        if (step) onProgress({ type: 'step', step: step[0], steps: step[1], instruction: text.replace(/^Step \d+\/\d+ : /, '').trim() });
        else onProgress({ type: 'output', text });
      } else if (e.params.error) settle.reject(errorFromWire(e.params.error));
      else settle.resolve(e.params.image ?? '');
    },
    complete: () => settle.reject(new ConnectionLost(`the connection closed while building '${tag}'`)),
  });
  const file = createReadStream(r.archive, { highWaterMark: FILE_CHUNK_BYTES });
  // Only a build the location started ends with build_end.
  let started = false;
  const cancelled = new AbortController();
  const onAbort = () => {
    cancelled.abort(signal?.reason);
    // A build the location runs is stopped there; one not yet asked for never starts.
    if (started) ctx.connection.request('cancel_build', { build }).catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    onProgress({ type: 'context', bytesDone: 0, bytesTotal: r.size });
    const sending = sendTransfer(ctx, {
      transfer,
      what: `sending the build context of '${tag}'`,
      open: async () => {
        signal?.throwIfAborted();
        await ctx.connection.request('build_image', {
          build, transfer, node: r.node, size: r.size, dockerfile: r.dockerfile, tag, buildArgs: r.buildArgs, target, localImages: r.localImages,
          registryAuth: r.registryAuth.length > 0 ? r.registryAuth : undefined,
        });
        started = true;
        if (signal?.aborted) onAbort(); // aborted while the request was on its way
      },
      chunks: abortable(file, cancelled.signal),
      onAcked: (bytes) => onProgress({ type: 'context', bytesDone: bytes, bytesTotal: r.size }),
    });
    // The build's own end says more than the context's (a failed step also cuts the context off).
    const sent = sending.then(
      () => undefined,
      (err: TfnzError) => (!started || cancelled.signal.aborted ? Promise.reject(err) : ended.then(() => Promise.reject(err))),
    );
    const image = await Promise.all([ended, sent]).then(([id]) => id, (err: unknown) => {
      throw signal?.aborted ? signal.reason : err;
    });
    onProgress({ type: 'built', image, tag });
    return { id: image, tag };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    file.destroy();
    sub.unsubscribe();
  }
}

/** The chunks of `source` until `signal` aborts, then its reason as the error. */
async function* abortable(source: AsyncIterable<Buffer>, signal: AbortSignal): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    signal.throwIfAborted();
    yield chunk;
  }
}

/** Write the context directory as a tar file, leaving out what its .dockerignore excludes. */
async function packContext(contextDir: string, target: string, signal?: AbortSignal): Promise<void> {
  const root = resolve(contextDir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new BadRequest(`the build context ${root} is not a directory`);
  const [tarFs, dockerignore] = await importOptional(
    () => Promise.all([import('tar-fs'), import('@balena/dockerignore')]),
    ['tar-fs', '@balena/dockerignore'],
    'building an image',
  );
  const rules = await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '');
  const ignored = commonJsExports(dockerignore)().add(rules);
  const pack = commonJsExports(tarFs).pack(root, {
    ignore: (name: string) => {
      const path = relative(root, name).split(sep).join('/');
      return path !== '' && ignored.ignores(path);
    },
  });
  await pipeline(pack, createWriteStream(target), { signal });
}
