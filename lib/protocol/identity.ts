/**
 * Who a session is: an Ed25519 key pair per user and location (Node's built-in crypto). The
 * location sends a random challenge when a socket opens; the client signs it, so the private key
 * never leaves the client and a recorded handshake cannot be replayed. A user's id is derived from
 * the public key, so it is stable across sessions and restarts.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * What is signed: a fixed prefix (so a signature made here means nothing anywhere else), the
 * socket's challenge, and the channel binding: what both ends see of the link (over TLS the
 * location's certificate, see channelBinding), so a proof made through a relay that terminates TLS
 * itself does not verify at the real location.
 */
export function challengeMessage(nonce: Uint8Array, binding: string = PLAIN_BINDING): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(nonce.length);
  return Buffer.concat([Buffer.from('tfnz-session-v2:'), length, nonce, Buffer.from(binding)]);
}

/** The binding of a plain ws:// socket (loopback only): nothing of the link is known to both ends. */
export const PLAIN_BINDING = 'plain';

/** The binding of a TLS socket: the SHA-256 of the location's certificate (DER) as each end sees it. */
export function channelBinding(certificateDer: Uint8Array): string {
  return `tls-cert-sha256:${createHash('sha256').update(certificateDer).digest('hex')}`;
}

/** The public key as it travels and is listed in authorized_keys: base64 of its SPKI DER. */
export function encodePublicKey(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

export function decodePublicKey(text: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('only ed25519 keys are accepted');
  return key;
}

/** The user id of a public key: short, stable, not secret. */
export function userIdOf(publicKeyText: string): string {
  return 'u-' + createHash('sha256').update(Buffer.from(publicKeyText, 'base64')).digest('hex').slice(0, 16);
}

/** A user id as userIdOf makes them: an open location never takes one as a plain name. */
export const KEY_DERIVED_ID = /^u-/i;

export function verifyProof(publicKeyText: string, nonce: Uint8Array, proof: Uint8Array, binding: string = PLAIN_BINDING): boolean {
  try {
    return verify(null, challengeMessage(nonce, binding), decodePublicKey(publicKeyText), proof);
  } catch {
    return false;
  }
}
