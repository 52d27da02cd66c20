/**
 * #20: which container a command-line key names, the same on both sides: a uuid, a tag, uuid:tag,
 * or (as docker takes ids) a unique start of a uuid of at least 4 characters.
 */
import { ContainerNotFound } from '../protocol/errors';

/** Anything with a uuid and maybe a tag. */
export interface Keyed {
  id: string;
  tag?: string;
}

/** The one item of `all` that `key` names; ContainerNotFound (saying why) otherwise. */
export function findByKey<T>(all: T[], key: string, keyed: (item: T) => Keyed): T {
  const colon = key.indexOf(':');
  const [id, tag] = colon < 0 ? [key, undefined] : [key.slice(0, colon), key.slice(colon + 1)];
  const exact = all.find((item) => {
    const k = keyed(item);
    return tag === undefined ? k.id === id || k.tag === id : k.id === id && k.tag === tag;
  });
  if (exact) return exact;
  const byPrefix = tag === undefined && id.length >= 4 ? all.filter((item) => keyed(item).id.startsWith(id)) : [];
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1) throw new ContainerNotFound(`'${key}' is the start of ${byPrefix.length} of your containers' uuids; give more of it`);
  throw new ContainerNotFound(`you have no container '${key}' (a uuid, the start of one, a tag or uuid:tag); tfnz ps -a lists them`);
}
