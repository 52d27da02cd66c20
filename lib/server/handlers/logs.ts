/**
 * The location's side of log history (#16): reading a container's kept output, and following it
 * (replay, then every new line) as `container_log` events. Spread into handlers.ts's maps.
 */
import { BadRequest } from '../../protocol';
import type { Session } from '../session';
import type { CommandHandlers } from './handler';
import { reachable } from './ownership';

/** Lines per container_log event, so a replay of a full history goes out in frames of bounded size. */
const LINES_PER_EVENT = 500;

/** Each session's open follows, by id: stopping one ends it with an `end` event. */
const follows = new WeakMap<Session, Map<string, () => void>>();

export const logCommands = {
  // The container may be one of another session of this user (tagged or not: tfnz logs).
  async container_logs(s, p) {
    const c = reachable(s, p.container); // #20: any container of this user, tagged or not
    return { lines: c.logs.query({ tail: p.tail, since: p.since }), dropped: c.logs.dropped };
  },

  async follow_logs(s, p) {
    const c = reachable(s, p.container); // #20: any container of this user, tagged or not
    const follow = p.follow;
    const mine = follows.get(s) ?? new Map<string, () => void>();
    follows.set(s, mine);
    if (mine.has(follow)) throw new BadRequest(`follow id '${follow}' is already in use`);
    const running = c.status === 'running' || c.status === 'spawning';
    let ended = false;
    const { replay, stop } = c.logs.follow({ tail: p.tail, since: p.since }, {
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
    follows.get(s)?.get(p.follow)?.();
    return {};
  },
} satisfies Partial<CommandHandlers>;
