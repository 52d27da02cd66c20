/** #19: the fields of registry pulls. Nothing here ever quotes a password back. */
import { BadRequest } from './errors';
import { oneOf, type Schema } from './schema';
import type { RegistryAuth } from './types';

/** Docker's pull policies (`docker run --pull`). */
export const pullPolicy = () => oneOf(['always', 'missing', 'never'] as const);

/** Longest user name or password taken (registry tokens run to a few KiB). */
const MAX_SECRET = 16 * 1024;

/** `{ username, password }` for the one registry an image reference names. */
export const registryAuth = (): Schema<RegistryAuth> => ({
  expected: 'a map of username, password',
  parse(v, path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new BadRequest(`'${path}' must be a map of username, password`);
    const given = v as Record<string, unknown>;
    const extra = Object.keys(given).find((k) => k !== 'username' && k !== 'password' && given[k] !== undefined);
    if (extra !== undefined) throw new BadRequest(`'${path}' takes username, password, not '${extra.slice(0, 40)}'`);
    for (const k of ['username', 'password'] as const) {
      const s = given[k];
      if (typeof s !== 'string' || s === '' || s.length > MAX_SECRET) throw new BadRequest(`'${path}.${k}' must be a string of 1 to ${MAX_SECRET} characters`);
    }
    return { username: given.username as string, password: given.password as string };
  },
});
