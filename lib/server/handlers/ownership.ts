/** What a session may act on, shared by the handlers of several domains. */
import { ContainerNotFound } from '../../protocol';
import type { ManagedContainer } from '../managed-container';
import type { Session } from '../session';

export function ownContainer(s: Session, id: string): ManagedContainer {
  const c = s.containers.get(id);
  if (!c) throw new ContainerNotFound(`no container '${id}' in this session`);
  return c;
}

/**
 * A container this session may connect: its own, or an external container (a running tagged
 * container of another session of the same user). Never another user's.
 */
export function connectable(s: Session, id: string, role: string): ManagedContainer {
  const own = s.containers.get(id);
  const external = own ? undefined : s.ctx.externals.find(s.user, s.id, id);
  const c = own ?? (external ? s.ctx.containers.get(id) : undefined);
  if (!c) throw new ContainerNotFound(`${role} '${id}' is neither a container of this session nor an external container of yours`);
  return c;
}
