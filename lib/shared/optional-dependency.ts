/**
 * Packages that a plain `npm install tfnz` leaves out (optional peer dependencies: dockerode,
 * tar-stream, ssh2) are imported on demand through here, so a missing one becomes a
 * MissingDependency that says what to install instead of Node's "Cannot find package".
 */
import { MissingDependency } from '../protocol/errors';

/**
 * Run `load` (a dynamic import of the package itself, or of a module that imports it); when one of
 * `packages` cannot be found, throw MissingDependency naming `feature` and the install command.
 */
export async function importOptional<T>(load: () => Promise<T>, packages: string[], feature: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const missing = packages.find((name) => isMissingPackage(err, name));
    if (!missing) throw err;
    throw new MissingDependency(`${feature} needs the '${missing}' package, which is not installed; run: npm install ${packages.join(' ')}`);
  }
}

/** Node's ESM ("Cannot find package 'x'") and CommonJS ("Cannot find module 'x'") errors for a package. */
export function isMissingPackage(err: unknown, name: string): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`'${name}/`));
}

/** ES module namespace of a CommonJS package, or the package itself: its `module.exports`. */
export function commonJsExports<T>(mod: T | { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as T);
}
