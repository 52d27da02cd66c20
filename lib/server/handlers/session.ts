/** Opening, resuming and closing a session, and the client's acknowledgement of events. */
import { BadRequest, SessionExpired, Unauthorized } from '../../protocol';
import { userIdOf, verifyProof } from '../../protocol/identity';
import type { Session } from '../session';
import type { CommandHandlers, MessageHandlers } from './handler';

/** The session's user: proven by a signed challenge, or on an open location a name taken on trust. */
function identify(s: Session, p: { user?: string; key?: string; proof?: Uint8Array }): string {
  if (p.key === undefined) {
    if (s.ctx.users.open) return p.user ?? 'local';
    throw new Unauthorized('this location admits only authorised users: create an account with `tfnz account create <location>` and ask the location\'s operator to run `tfnz authorize <the key it printed>`');
  }
  if (!p.proof || !verifyProof(p.key, s.nonce, p.proof)) {
    throw new Unauthorized('the key\'s proof did not verify against this session\'s challenge; is the account file damaged?');
  }
  if (!s.ctx.users.admits(p.key)) {
    throw new Unauthorized(`this location does not know your key yet; ask its operator to run: tfnz authorize ${p.key}`);
  }
  return userIdOf(p.key);
}

export const sessionCommands = {
  async open_session(s, p) {
    if (s.opened) throw new BadRequest('the session is already open');
    s.user = identify(s, p);
    s.opened = true;
    s.joinUserChannel();
    // The offer goes out right after the reply, so the client folds it into a fresh state.
    setImmediate(() =>
      s.emit('resource_offer', {
        session: s.id, user: s.user, location: s.ctx.name, nodes: s.ctx.nodes.list(),
        containers: [], volumes: s.ctx.volumes.list(s.user), externals: s.ctx.externals.visibleTo(s.user, s.id), endpoints: s.ctx.endpoints(),
      }),
    );
    return { session: s.id, user: s.user, location: s.ctx.name };
  },

  async resume_session(s, p) {
    if (s.opened) throw new BadRequest('resume_session must be the first request on a socket');
    const user = identify(s, p);
    const target = s.ctx.findSession(p.session);
    if (!target || target.ended || !target.opened || target.user !== user) {
      throw new SessionExpired('the location no longer has this session (it was away longer than the grace period, or the location restarted); connect again');
    }
    s.handOver();
    return { received: target.resume(s.socketPair.ws, s.socketPair.socket, p.lastSeq) };
  },

  async close_session(s) {
    await s.end();
    return {};
  },
} satisfies Partial<CommandHandlers>;

export const sessionMessages = {
  ack: (s, p) => s.acknowledge(p.seq),
} satisfies Partial<MessageHandlers>;
