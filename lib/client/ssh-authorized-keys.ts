/**
 * Who may log in to `Container.createSshServer`: public keys in OpenSSH's `authorized_keys` form.
 * By default the user's own: every tfnz account key on this machine, `~/.ssh/id_*.pub`, and
 * `~/.ssh/authorized_keys` if present (read once, when the server starts). Clients prove a key
 * with a signature (publickey authentication); everything else is refused.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { allLocations, loadAccount } from './accounts';

const { utils } = ssh2;

/** A tfnz account key (base64 SPKI DER of an Ed25519 key) as an OpenSSH public key line. */
export function accountKeyToSsh(spkiBase64: string): string {
  const raw = Buffer.from(spkiBase64, 'base64').subarray(-32); // Ed25519 SPKI ends with the 32-byte key
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')}`;
}

/** The keys a user's SSH server admits when none are given (see above). */
export function defaultSshKeys(): string[] {
  const lines: string[] = [];
  for (const location of allLocations()) {
    const account = loadAccount(location);
    if (account) lines.push(accountKeyToSsh(account.publicKey));
  }
  const dir = join(homedir(), '.ssh');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => /^id_.*\.pub$/.test(f)).sort()) lines.push(readFileSync(join(dir, f), 'utf8'));
    if (existsSync(join(dir, 'authorized_keys'))) lines.push(readFileSync(join(dir, 'authorized_keys'), 'utf8'));
  }
  return lines;
}

/**
 * Parse authorized_keys text: one key a line, `[options] type base64 [comment]`; blank lines,
 * comments and keys ssh2 cannot read are skipped (options such as `from=` are not enforced).
 */
export function parseAuthorizedKeys(lines: string[]): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const line of lines.flatMap((l) => l.split('\n')).map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const at = words.findIndex((w) => /^(ssh-|ecdsa-|sk-)/.test(w));
    if (at < 0 || !words[at + 1]) continue;
    const parsed = utils.parseKey(`${words[at]} ${words[at + 1]}`);
    if (parsed instanceof Error) continue;
    keys.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  return keys;
}
