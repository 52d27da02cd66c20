/**
 * The build context on its way from the session to the engine: the client's tar archive is
 * passed through entry by entry, and the Dockerfile the location checked (build-dockerfile.ts) is
 * added at the end under a name of its own, so the engine builds that one and never one the
 * client put in the archive. Back-pressure runs through: the engine reading slowly makes `write`
 * wait, which holds back the client's credit (FileWriter).
 */
import { once } from 'node:events';
import tar from 'tar-stream';
import { EngineError } from '../protocol';
import type { FileSink } from '../engines/engine';

export interface BuildContext {
  /** Where the session's bytes of the archive go. */
  sink: FileSink;
  /** The archive the engine reads. */
  archive: NodeJS.ReadableStream;
}

/** Pass the client's archive through to the engine, adding `dockerfile` as the file `name`. */
export function buildContext(name: string, dockerfile: string): BuildContext {
  const extract = tar.extract();
  const pack = tar.pack();
  let failed: Error | undefined;
  const fail = (err: Error) => {
    failed ??= err;
    pack.destroy(err);
  };
  extract.on('entry', (header, stream, next) => {
    if (header.name.replace(/^\.\//, '') === name) {
      stream.resume(); // the client's own file of that name (an unlikely nonce) gives way to ours
      stream.on('end', () => next());
      return;
    }
    const entry = pack.entry(header, (err) => (err ? fail(err) : next()));
    stream.pipe(entry);
  });
  extract.on('error', (err: Error) => fail(new EngineError(`the build context is not a tar archive: ${err.message}`)));
  extract.on('finish', () => {
    pack.entry({ name, mode: 0o644 }, Buffer.from(dockerfile, 'utf8'), (err) => (err ? fail(err) : pack.finalize()));
  });
  const sink: FileSink = {
    async write(chunk) {
      if (failed) throw failed;
      if (!extract.write(Buffer.from(chunk))) await Promise.race([once(extract, 'drain'), once(extract, 'close')]);
      if (failed) throw failed;
    },
    async finish() {
      extract.end(undefined);
      await Promise.race([once(extract, 'finish'), once(extract, 'close')]);
      if (failed) throw failed;
    },
    abort() {
      extract.destroy();
      fail(new EngineError('the build context was cut off'));
    },
  };
  return { sink, archive: pack as unknown as NodeJS.ReadableStream };
}
