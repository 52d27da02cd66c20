/**
 * How the SDK trusts a location's link, like SSH's known_hosts:
 *
 * - wss:// with a CA the user names (`tlsCa`): the certificate must chain to it and match the host;
 * - wss:// otherwise: trust on first use. The SHA-256 fingerprint of the certificate seen first
 *   is kept in `~/.tfnz/known_locations` (`host:port fingerprint` a line); a different one later
 *   is CertificateChanged, saying how to re-pin;
 * - ws://: only on loopback (the embedded location, a location on this machine), else InsecureLink
 *   unless the caller explicitly allows it (`insecure`).
 *
 * Either way the proof of identity is bound to the certificate this end saw (identity.ts), so a
 * relay that terminates TLS with a certificate of its own cannot use it.
 */
import { X509Certificate } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ClientOptions } from 'ws';
import { CertificateChanged, InsecureLink } from '../protocol/errors';
import { PLAIN_BINDING, channelBinding } from '../protocol/identity';
import { isLoopback } from '../protocol/loopback';
import { accountsDir } from './accounts';

export interface LinkOptions {
  /** Trust certificates issued by this CA (PEM text or a file holding it) instead of pinning. */
  tlsCa?: string;
  /** Accept plain ws:// to a host that is not loopback (nothing protects the session then). */
  insecure?: boolean;
}

export interface LinkSecurity {
  /** Extra options for the `ws` client. */
  clientOptions: ClientOptions;
  /** Check the link once the server answered the upgrade; returns the channel binding, or throws. */
  verify(response: IncomingMessage): string;
}

export function knownLocationsFile(): string {
  return join(accountsDir(), 'known_locations');
}

/** The pinned fingerprint of `hostPort`, if any. */
export function pinnedFingerprint(hostPort: string): string | undefined {
  const file = knownLocationsFile();
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find(([h]) => h === hostPort);
  return line?.[1];
}

/** Forget the pin of `hostPort` (after checking the new certificate with the operator). */
export function unpin(hostPort: string): void {
  const file = knownLocationsFile();
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && l.trim().split(/\s+/)[0] !== hostPort);
  writeFileSync(file, kept.map((l) => `${l}\n`).join(''), { mode: 0o600 });
}

function pin(hostPort: string, fingerprint: string): void {
  mkdirSync(accountsDir(), { recursive: true, mode: 0o700 });
  appendFileSync(knownLocationsFile(), `${hostPort} ${fingerprint}\n`, { mode: 0o600 });
}

export function linkSecurity(url: string, opts: LinkOptions = {}): LinkSecurity {
  const u = new URL(url);
  if (u.protocol === 'ws:') {
    if (!isLoopback(u.hostname) && !opts.insecure) {
      throw new InsecureLink(`refusing plain ${url}: outside this machine the link must be wss:// (TLS). Use wss://${u.host}, or pass insecure: true if something else protects the path`);
    }
    return { clientOptions: {}, verify: () => PLAIN_BINDING };
  }
  const hostPort = u.host;
  if (opts.tlsCa) {
    const ca = opts.tlsCa.includes('-----BEGIN') ? opts.tlsCa : readFileSync(opts.tlsCa, 'utf8');
    return {
      clientOptions: { ca, rejectUnauthorized: true },
      verify: (res) => channelBinding(peerCertificate(res).raw),
    };
  }
  return {
    // Self-signed is expected: trust comes from the pin, checked before anything is sent.
    clientOptions: { rejectUnauthorized: false },
    verify: (res) => {
      const cert = peerCertificate(res);
      const seen = cert.fingerprint256;
      const pinned = pinnedFingerprint(hostPort);
      if (pinned === undefined) pin(hostPort, seen);
      else if (pinned !== seen) {
        throw new CertificateChanged(
          `the location at ${hostPort} presented certificate ${seen}, not the ${pinned} pinned in ${knownLocationsFile()}. ` +
          'Someone may be intercepting the connection, or the location got a new certificate: check with its operator (tfnz location logs its fingerprint), ' +
          `then remove the line for ${hostPort} from that file to pin the new one`,
        );
      }
      return channelBinding(cert.raw);
    },
  };
}

function peerCertificate(res: IncomingMessage): X509Certificate {
  const der = (res.socket as TLSSocket).getPeerCertificate?.()?.raw;
  if (!der) throw new InsecureLink('the location presented no TLS certificate');
  return new X509Certificate(der);
}
