/**
 * Who a session is, decided once per socket (open_session, resume_session): a key proven by
 * signing this socket's challenge bound to the link, or, on an open location only, a plain name
 * taken on trust. A plain name can never be a key-derived id (`u-…`), so on an open location
 * nobody can pass for a keyed user by writing their id.
 */
import { KEY_DERIVED_ID, userIdOf, verifyProof } from '../protocol/identity';
import { BadRequest, Unauthorized } from '../protocol/errors';
import type { AuthorizedUsers } from './authorized-users';

export interface ProofContext {
  /** This socket's challenge. */
  nonce: Uint8Array;
  /** The link as this location sees it (identity.ts channelBinding). */
  channelBinding: string;
  users: AuthorizedUsers;
}

const MAX_NAME = 64;

export function identify(c: ProofContext, p: { user?: string; key?: string; proof?: Uint8Array }): string {
  const key = p.key;
  if (key === undefined) {
    if (!c.users.open) {
      throw new Unauthorized('this location admits only authorised users: create an account with `tfnz account create <location>` and ask the location\'s operator to run `tfnz authorize <the key it printed>`');
    }
    const name = p.user ?? 'local';
    if (KEY_DERIVED_ID.test(name)) {
      throw new Unauthorized(`'${name.slice(0, MAX_NAME)}' is a key-derived user id: that user must prove it with their key; choose a name that does not start with 'u-'`);
    }
    if (name.length === 0 || name.length > MAX_NAME) throw new BadRequest(`'user' must be 1 to ${MAX_NAME} characters`);
    return name;
  }
  const proof = p.proof;
  if (!(proof instanceof Uint8Array) || !verifyProof(key, c.nonce, proof, c.channelBinding)) {
    throw new Unauthorized('the key\'s proof did not verify against this socket\'s challenge and link: is the account file damaged, or is something between you and the location relaying the connection?');
  }
  if (!c.users.admits(key)) {
    throw new Unauthorized(`this location does not know your key yet; ask its operator to run: tfnz authorize ${key}`);
  }
  return userIdOf(key);
}
