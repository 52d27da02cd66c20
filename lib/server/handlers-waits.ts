/**
 * The location's side of the wait strategies that need it (#16): a container's health as its
 * engine sees it, and an HTTP wait with a chosen status and body. Spread into handlers.ts's map.
 */
import { BadRequest, ContainerNotFound, type Commands } from '../protocol';
import { int, optStr, port, str } from '../protocol/validate';
import type { Session } from './session';
import type { ManagedContainer } from './managed-container';
import { waitHttp } from './wait-for';

type Params = Record<string, unknown>;
type Handlers<C extends keyof Commands> = { [K in C]: (s: Session, p: Params) => Promise<Commands[K]['result']> };

const MAX_WAIT_S = 3600;

function container(s: Session, p: Params): ManagedContainer {
  const id = str(p, 'container');
  const c = s.containers.get(id);
  if (!c) throw new ContainerNotFound(`no container '${id}' in this session`);
  return c;
}

export const waitCommandHandlers: Handlers<'container_health' | 'wait_http'> = {
  async container_health(s, p) {
    const c = container(s, p);
    const engine = c.node.engine;
    if (!engine.health) return { health: 'none' };
    return { health: await engine.health(c.runningEngineId('reading its health')) };
  },

  async wait_http(s, p) {
    const c = container(s, p);
    const path = str(p, 'path');
    if (!path.startsWith('/')) throw new BadRequest(`'path' must start with / (got '${path}')`);
    const status = int(p, 'status', 100, 599);
    await waitHttp(c, port(p, 'port'), str(p, 'fqdn'), path, status, optStr(p, 'body'), int(p, 'timeout', 1, MAX_WAIT_S) * 1000);
    return {};
  },
};
