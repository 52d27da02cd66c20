/** Opening, resuming and closing a session, and the client's acknowledgement of events. */
import { BadRequest, SessionExpired } from '../../protocol';
import { identify } from '../identity';
import { networkStackId } from '../../shared/network-stack';
import type { Session } from '../session';
import type { CommandHandlers, MessageHandlers } from './handler';

/** The session's user (see identity.ts): this socket's challenge, bound to the location's link. */
const identifyOn = (s: Session, p: { user?: string; key?: string; proof?: Uint8Array }) =>
  identify({ nonce: s.nonce, channelBinding: s.ctx.channelBinding, users: s.ctx.users }, p);

export const sessionCommands = {
  async open_session(s, p) {
    if (s.opened) throw new BadRequest('the session is already open');
    const user = identifyOn(s, p);
    s.ctx.quotas.newSession(user);
    s.user = user;
    s.opened = true;
    s.joinUserChannel();
    // The offer goes out right after the reply, so the client folds it into a fresh state.
    setImmediate(() =>
      s.emit('resource_offer', {
        session: s.id, user: s.user, location: s.ctx.name, nodes: s.ctx.nodes.list(),
        containers: [], volumes: s.ctx.volumes.list(s.user), externals: s.ctx.externals.visibleTo(s.user, s.id), endpoints: s.ctx.endpoints(),
      }),
    );
    return { session: s.id, user: s.user, location: s.ctx.name, dataConnections: s.ctx.dataConnections !== undefined, networkStack: networkStackId() };
  },

  async resume_session(s, p) {
    if (s.opened) throw new BadRequest('resume_session must be the first request on a socket');
    const user = identifyOn(s, p);
    const target = s.ctx.findSession(p.session);
    if (!target || target.ended || !target.opened || target.user !== user) {
      throw new SessionExpired('the location no longer has this session (it was away longer than the grace period, or the location restarted); connect again');
    }
    return { received: target.resumeFrom(s, p.lastSeq) };
  },

  async close_session(s) {
    await s.end();
    return {};
  },
} satisfies Partial<CommandHandlers>;

export const sessionMessages = {
  ack: (s, p) => s.acknowledge(p.seq),
} satisfies Partial<MessageHandlers>;
