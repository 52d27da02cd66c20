/**
 * Accounts on this machine, one per location, like the original's ~/.20ft files: in ~/.tfnz (or
 * $TFNZ_HOME), `<location>.key` (private, mode 600) and `<location>.pub`, and `default_location`.
 * Key files never leave the machine; only signatures do.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { challengeMessage, encodePublicKey, userIdOf } from '../protocol/identity';
import { accountsDir } from '../shared/tfnz-home';

export interface Account {
  location: string;
  publicKey: string;
  userId: string;
  privateKey: KeyObject;
}

export { accountsDir };

/** A file-name-safe form of a location name (host:port → host_port). */
const fileName = (location: string) => location.replace(/[^A-Za-z0-9._-]/g, '_');

export function loadAccount(location: string): Account | undefined {
  const base = join(accountsDir(), fileName(location));
  if (!existsSync(`${base}.key`)) return undefined;
  const privateKey = createPrivateKey(readFileSync(`${base}.key`));
  const publicKey = encodePublicKey(createPublicKey(privateKey));
  return { location, publicKey, userId: userIdOf(publicKey), privateKey };
}

/** Create the account for `location` unless it exists; returns it either way. */
export function ensureAccount(location: string): Account {
  const existing = loadAccount(location);
  if (existing) return existing;
  const dir = accountsDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const base = join(dir, fileName(location));
  // Written aside and linked into place: two programs making the same account at once (the
  // embedded one, on first use) never read a half-written key, and the first one made wins.
  const tmp = `${base}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, `${base}.key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return loadAccount(location)!;
  } finally {
    unlinkSync(tmp);
  }
  writeFileSync(`${base}.pub`, `${encodePublicKey(publicKey)} ${location}\n`);
  if (!defaultLocation()) writeFileSync(join(dir, 'default_location'), `${location}\n`);
  return loadAccount(location)!;
}

/** Names of the locations this machine holds an account for. */
export function allLocations(): string[] {
  const dir = accountsDir();
  if (!existsSync(dir)) return [];
  const files = new Set(readdirSync(dir));
  return [...files].filter((f) => f.endsWith('.key') && files.has(f.replace(/\.key$/, '.pub'))).map((f) => {
    const pub = readFileSync(join(dir, f.replace(/\.key$/, '.pub')), 'utf8').trim().split(/\s+/);
    return pub[1] ?? f.replace(/\.key$/, '');
  });
}

export function defaultLocation(): string | undefined {
  const file = join(accountsDir(), 'default_location');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** Sign a socket's challenge, bound to the link as this end saw it (see challengeMessage). */
export function signChallenge(account: Account, nonce: Uint8Array, binding?: string): Buffer {
  return sign(null, challengeMessage(nonce, binding), account.privateKey);
}
