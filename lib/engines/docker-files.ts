/**
 * Files in and out of a Docker container through the archive endpoints (which work on created and
 * stopped containers too, and need nothing inside the image). Both directions stream through
 * tar-stream, so a large file is never held whole in memory.
 */
import type Docker from 'dockerode';
import { posix } from 'node:path';
import { once } from 'node:events';
import tar from 'tar-stream';
import { BadRequest, EngineError, FileNotFound } from '../protocol';
import type { FileSink, FileSource } from './engine';

/** How many symbolic links `readFile` follows before giving up (a loop). */
const MAX_LINKS = 8;

export async function readContainerFile(docker: Docker, engineId: string, path: string, links = 0): Promise<FileSource> {
  let res: NodeJS.ReadableStream & { destroy(): void };
  try {
    res = (await docker.getContainer(engineId).getArchive({ path })) as typeof res;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw new FileNotFound(`there is no file '${path}' in the container`);
    throw new EngineError(`Docker Engine failed while reading '${path}': ${(err as Error).message}`);
  }
  const extract = tar.extract();
  res.pipe(extract as unknown as NodeJS.WritableStream);
  res.on('error', (err) => extract.destroy(err));
  const entries = extract[Symbol.asyncIterator]();
  const first = await entries.next().catch((err: Error) => {
    throw new EngineError(`Docker Engine sent a broken archive for '${path}': ${err.message}`);
  });
  const cancel = () => {
    res.destroy();
    extract.destroy();
  };
  if (first.done) {
    cancel();
    throw new FileNotFound(`there is no file '${path}' in the container`);
  }
  const entry = first.value;
  const { type, size, linkname } = entry.header;
  if (type === 'symlink' && linkname) {
    cancel();
    if (links >= MAX_LINKS) throw new FileNotFound(`'${path}' is a chain of more than ${MAX_LINKS} symbolic links`);
    return readContainerFile(docker, engineId, posix.resolve(posix.dirname(path), linkname), links + 1);
  }
  if (type !== 'file' && type !== 'contiguous-file') {
    cancel();
    throw new FileNotFound(`'${path}' is a ${type ?? 'special file'}, not a regular file`);
  }
  return { size: size ?? 0, chunks: entry as AsyncIterable<Uint8Array>, cancel };
}

export async function writeContainerFile(docker: Docker, engineId: string, path: string, size: number): Promise<FileSink> {
  const pack = tar.pack();
  // The archive is unpacked at '/', and Docker creates missing parent folders as it unpacks.
  const upload = docker.getContainer(engineId).putArchive(pack as unknown as NodeJS.ReadableStream, { path: '/', noOverwriteDirNonDir: true });
  let failure: Error | undefined;
  upload.catch((err: Error) => (failure = refused(path, (err as { json?: { message?: string } }).json?.message ?? err.message)));
  let entryError: Error | undefined;
  const entry = pack.entry({ name: path.replace(/^\/+/, ''), size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(), type: 'file' }, (err) => {
    entryError ??= err ?? undefined;
  });
  // Settles, never rejects: an entry that breaks (abort() destroys it, the engine goes away, more
  // bytes than announced) records why in entryError. A rejection here could reach no handler when
  // the put ends before finish(), and an unhandled rejection ends the location process.
  const entryDone = new Promise<void>((resolve) => {
    entry.on('finish', () => resolve());
    entry.on('close', () => resolve());
    entry.on('error', (err: Error) => {
      entryError ??= err;
      resolve();
    });
  });
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (entryError) throw new EngineError(`could not write '${path}': ${entryError.message}`);
      if (!entry.write(chunk)) await Promise.race([once(entry as never, 'drain').catch(() => undefined), entryDone, upload.then(() => undefined, () => undefined)]);
      if (failure) throw failure;
    },
    async finish() {
      (entry as unknown as { end(): void }).end();
      await entryDone;
      if (entryError) throw new EngineError(`could not write '${path}': ${entryError.message}`);
      pack.finalize();
      await upload.catch(() => undefined);
      if (failure) throw failure;
    },
    abort() {
      pack.destroy(new Error('transfer abandoned'));
    },
  };
}

/** Docker's words for the two mistakes a caller can make, as BadRequest; anything else is the engine's. */
function refused(path: string, detail: string): Error {
  if (detail.includes('cannot overwrite directory')) return new BadRequest(`'${path}' is a folder in the container; put writes files`);
  if (detail.includes('not a directory')) return new BadRequest(`a parent of '${path}' is a file in the container, not a folder`);
  return new EngineError(`Docker Engine refused '${path}': ${detail}`);
}
