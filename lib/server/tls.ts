/**
 * The location's own TLS identity for wss://: a certificate and key given by the operator
 * (`--tls-cert/--tls-key`), or a self-signed one made on first start and kept in the location's
 * state directory (`<dir>/tls/`), so clients that pinned it on first use keep trusting it.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { importOptional } from '../shared/optional-dependency';
import { channelBinding } from '../protocol/identity';

/** A certificate and its key, PEM, that the location serves wss:// with. */
export interface TlsIdentity {
  /** PEM. */
  cert: string;
  /** PEM. */
  key: string;
}

/** What a client that sees this certificate binds its proof to (identity.ts). */
export function bindingOf(tls: TlsIdentity): string {
  return channelBinding(new X509Certificate(tls.cert).raw);
}

/** SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it, for the log and for pins. */
export function fingerprintOf(tls: TlsIdentity): string {
  return new X509Certificate(tls.cert).fingerprint256;
}

export function readTlsIdentity(certFile: string, keyFile: string): TlsIdentity {
  const tls = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  if (!new X509Certificate(tls.cert).checkPrivateKey(createPrivateKey(tls.key))) throw new Error(`${keyFile} is not the key of the certificate in ${certFile}`);
  return tls;
}

/** The certificate kept in `dir/tls`, made (self-signed, EC P-256, 10 years) if there is none. */
export async function selfSignedTlsIdentity(dir: string, names: string[]): Promise<TlsIdentity> {
  const tlsDir = join(dir, 'tls');
  const certFile = join(tlsDir, 'cert.pem');
  const keyFile = join(tlsDir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  const dns = [...new Set(['localhost', hostname(), ...names.filter((n) => !/^[\d.:]+$/.test(n))])];
  const ips = [...new Set(['127.0.0.1', '::1', ...names.filter((n) => /^[\d.:]+$/.test(n) && n !== '0.0.0.0' && n !== '::')])];
  const notAfterDate = new Date(Date.now() + 10 * 365 * 86_400_000);
  // Only a location that makes its own certificate needs the package (an optional peer dependency).
  const { generate } = await importOptional(() => import('selfsigned'), ['selfsigned'], 'a self-signed certificate for wss:// (or give --tls-cert/--tls-key)');
  const made = await generate([{ name: 'commonName', value: dns[1] ?? 'localhost' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  // Key first, both by rename: a crash never leaves a certificate without its key.
  writeFileSync(`${keyFile}.part`, made.private, { mode: 0o600 });
  renameSync(`${keyFile}.part`, keyFile);
  writeFileSync(`${certFile}.part`, made.cert);
  renameSync(`${certFile}.part`, certFile);
  return { cert: made.cert, key: made.private };
}
