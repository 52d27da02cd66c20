/**
 * The location's side of ctr.stats$ (#16): one engine stats stream per watch, open only while the
 * client watches, closed by unwatch_stats, or when the main process ends or the container goes
 * (which a session's end brings about too).
 */
import { BadRequest, ContainerNotRunning } from '../../protocol';
import type { Session } from '../session';
import type { CommandHandlers } from './handler';
import { ownContainer } from './ownership';

/** Watches one session may have open at once (each is an engine stream). */
const MAX_WATCHES = 64;

const watches = new WeakMap<Session, Map<string, () => void>>();

export const statsCommands = {
  async watch_stats(s, p) {
    const id = p.container;
    const c = ownContainer(s, id);
    const watch = p.watch;
    const mine = watches.get(s) ?? new Map<string, () => void>();
    watches.set(s, mine);
    if (mine.has(watch)) throw new BadRequest(`watch id '${watch}' is already in use`);
    if (mine.size >= MAX_WATCHES) throw new BadRequest(`a session may watch at most ${MAX_WATCHES} containers' stats at once; unsubscribe from some stats$ first`);
    const engine = c.node.engine;
    if (!engine.streamStats) throw new ContainerNotRunning(`the engine of container ${id} gives no stats`);
    let ended = false;
    let close = () => {};
    const end = () => {
      if (ended) return;
      ended = true;
      mine.delete(watch);
      cancelStop();
      close();
      s.emit('container_stats', { watch, end: true });
    };
    mine.set(watch, end);
    const cancelStop = c.whenStopped(end);
    try {
      close = await engine.streamStats(c.runningEngineId('watching its stats'), (stats) => ended || s.emit('container_stats', { watch, stats }), end);
    } catch (err) {
      ended = true;
      mine.delete(watch);
      cancelStop();
      throw err;
    }
    if (ended) close(); // it stopped while the stream was being opened
    return {};
  },

  async unwatch_stats(s, p) {
    watches.get(s)?.get(p.watch)?.();
    return {};
  },
} satisfies Partial<CommandHandlers>;
