/**
 * Which users a location admits. `open` admits anyone who can connect (under a plain name, never
 * a key-derived id); `only` admits a fixed set of keys (the embedded location: its owner's
 * account key); otherwise only public keys listed in an authorized_keys file, one per line as
 * `<base64 key> [comment]`, read again whenever it changes so authorising needs no restart.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodePublicKey } from '../protocol/identity';

export class AuthorizedUsers {
  private keys = new Set<string>();
  private loadedAt = -1;

  private constructor(
    readonly open: boolean,
    private readonly file?: string,
  ) {}

  static open(): AuthorizedUsers {
    return new AuthorizedUsers(true);
  }

  static fromFile(file: string): AuthorizedUsers {
    return new AuthorizedUsers(false, file);
  }

  /** Exactly these keys, for the life of the location. */
  static only(keys: string[]): AuthorizedUsers {
    const users = new AuthorizedUsers(false);
    users.keys = new Set(keys);
    return users;
  }

  admits(publicKey: string): boolean {
    if (this.open) return true;
    this.reload();
    return this.keys.has(publicKey);
  }

  private reload(): void {
    if (!this.file) return; // a fixed set (only)
    if (!existsSync(this.file)) return void (this.keys = new Set());
    const mtime = statSync(this.file).mtimeMs;
    if (mtime === this.loadedAt) return;
    this.loadedAt = mtime;
    this.keys = new Set(
      readFileSync(this.file, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((k) => k && !k.startsWith('#')),
    );
  }
}

/** Add a key to an authorized_keys file (`tfnz location authorize`); checks it is an ed25519 key. */
export function authorize(file: string, line: string): void {
  const [key, ...comment] = line.trim().split(/\s+/);
  decodePublicKey(key);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${key}${comment.length ? ' ' + comment.join(' ') : ''}\n`, { mode: 0o600 });
}
