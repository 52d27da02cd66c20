/**
 * `tfnz cp SRC DEST`: copy one regular file between here and a container of yours (whichever
 * session holds it), as `docker cp`: the container side is ID:/path (ID a uuid, tag or uuid:tag).
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Location } from '../client/location';
import { BadRequest } from '../protocol';
import type { LocationOption } from './output';

/** `ID:/path` → [ID, /path]; a local path → undefined. */
function containerPath(spec: string): [string, string] | undefined {
  const at = spec.lastIndexOf(':/');
  return at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : undefined;
}

export async function cpCommand(src: string, dest: string, opts: LocationOption): Promise<void> {
  const [from, to] = [containerPath(src), containerPath(dest)];
  if (!!from === !!to) throw new BadRequest(`tfnz cp copies between here and a container: one side is ID:/path, the other a local path (got '${src}' '${dest}')`);
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    if (from) {
      const data = await (await loc.userContainer(from[0])).fetch(from[1]);
      const isDir = (() => { try { return statSync(dest).isDirectory(); } catch { return false; } })();
      writeFileSync(isDir ? join(dest, basename(from[1])) : dest, data);
    } else {
      const [key, path] = to!;
      const data = (() => {
        try {
          return readFileSync(src);
        } catch (err) {
          throw new BadRequest(`cannot read ${src}: ${(err as Error).message} (tfnz cp copies one regular file)`);
        }
      })();
      await (await loc.userContainer(key)).put(path.endsWith('/') ? path + basename(src) : path, data);
    }
  } finally {
    await loc.disconnect();
  }
}
