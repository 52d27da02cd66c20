/**
 * The location's side of log history (#16): reading a container's kept output, and following it
 * (replay, then every new line) as `container_log` events. Spread into handlers.ts's maps.
 */
import { BadRequest, ContainerNotFound, type Commands } from '../protocol';
import { int, str } from '../protocol/validate';
import type { Session } from './session';
import type { ManagedContainer } from './managed-container';
import type { LogQuery } from './log-history';

type Params = Record<string, unknown>;
type Handlers<C extends keyof Commands> = { [K in C]: (s: Session, p: Params) => Promise<Commands[K]['result']> };

/** Lines per container_log event, so a replay of a full history goes out in frames of bounded size. */
const LINES_PER_EVENT = 500;
const FOLLOW_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Each session's open follows, by id: stopping one ends it with an `end` event. */
const follows = new WeakMap<Session, Map<string, () => void>>();

/** A container of this session, or an external one (a tagged container of another session of this user). */
function container(s: Session, p: Params): ManagedContainer {
  const id = str(p, 'container');
  const c = s.containers.get(id) ?? (s.ctx.externals.find(s.user, s.id, id) ? s.ctx.containers.get(id) : undefined);
  if (!c) throw new ContainerNotFound(`container '${id}' is neither a container of this session nor an external container of yours`);
  return c;
}

function logQuery(p: Params): LogQuery {
  return {
    tail: p.tail === undefined || p.tail === null ? undefined : int(p, 'tail', 0),
    since: p.since === undefined || p.since === null ? undefined : int(p, 'since', 0),
  };
}

export const logCommandHandlers: Handlers<'container_logs' | 'follow_logs' | 'unfollow_logs'> = {
  async container_logs(s, p) {
    const c = container(s, p);
    return { lines: c.logs.query(logQuery(p)), dropped: c.logs.dropped };
  },

  async follow_logs(s, p) {
    const c = container(s, p);
    const follow = str(p, 'follow');
    if (!FOLLOW_ID.test(follow)) throw new BadRequest("'follow' must be 8-64 characters of A-Z a-z 0-9 _ -");
    const mine = follows.get(s) ?? new Map<string, () => void>();
    follows.set(s, mine);
    if (mine.has(follow)) throw new BadRequest(`follow id '${follow}' is already in use`);
    const running = c.status === 'running' || c.status === 'spawning';
    let ended = false;
    const { replay, stop } = c.logs.follow(logQuery(p), {
      line: (line) => s.emit('container_log', { follow, lines: [line] }),
      end: () => {
        if (ended) return;
        ended = true;
        mine.delete(follow);
        s.emit('container_log', { follow, lines: [], end: true });
      },
    }, !running);
    // The replay goes out before any followed line: both are emitted in order on this session.
    for (let i = 0; i < replay.length; i += LINES_PER_EVENT) s.emit('container_log', { follow, lines: replay.slice(i, i + LINES_PER_EVENT) });
    if (!ended && running) mine.set(follow, stop);
    return {};
  },

  async unfollow_logs(s, p) {
    follows.get(s)?.get(str(p, 'follow'))?.();
    return {};
  },
};
