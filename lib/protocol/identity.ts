/**
 * Who a session is: an Ed25519 key pair per user and location (Node's built-in crypto). The
 * location sends a random challenge when a socket opens; the client signs it, so the private key
 * never leaves the client and a recorded handshake cannot be replayed. A user's id is derived from
 * the public key, so it is stable across sessions and restarts.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/** What is signed: a fixed prefix, so a signature made here means nothing anywhere else. */
export function challengeMessage(nonce: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('tfnz-session-v1:'), nonce]);
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

export function verifyProof(publicKeyText: string, nonce: Uint8Array, proof: Uint8Array): boolean {
  try {
    return verify(null, challengeMessage(nonce), decodePublicKey(publicKeyText), proof);
  } catch {
    return false;
  }
}
