/**
 * The location's side of the wait strategies that need it (#16): a container's health as its
 * engine sees it, and an HTTP wait with a chosen status and body. Spread into handlers.ts's map.
 */
import { waitHttp } from '../wait-for';
import type { CommandHandlers } from './handler';
import { ownContainer } from './ownership';

export const waitCommands = {
  async container_health(s, p) {
    const c = ownContainer(s, p.container);
    const engine = c.node.engine;
    if (!engine.health) return { health: 'none' };
    return { health: await engine.health(c.runningEngineId('reading its health')) };
  },

  async wait_http(s, p) {
    await waitHttp(ownContainer(s, p.container), p.port, p.fqdn, p.path, p.status, p.body, p.timeout * 1000);
    return {};
  },
} satisfies Partial<CommandHandlers>;
