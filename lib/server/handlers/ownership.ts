/** What a session may act on, shared by the handlers of several domains. */
import { ContainerNotFound } from '../../protocol';
import type { ManagedContainer } from '../managed-container';
import type { Session } from '../session';
import { findByKey } from '../../shared/container-key';

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

/**
 * #20: a container this session may run processes in, read the logs of and copy files to and from:
 * its own, or one of its user's that userContainer lets it act on (tfnz exec, cp, logs). Never another user's.
 */
export function reachable(s: Session, id: string): ManagedContainer {
  const own = s.containers.get(id);
  if (own) return own;
  const { container } = userContainer(s, id);
  s.visiting.add(container);
  return container;
}

/** #20: a container of this user, in whichever of the user's sessions, with the session holding it. */
export interface UserContainer {
  container: ManagedContainer;
  session: Session;
}

/** #20: every container of `s`'s user, in all of the user's sessions. Never another user's. */
export function userContainers(s: Session): UserContainer[] {
  return s.ctx.sessionsOf(s.user).flatMap((session) => [...session.containers.values()].map((container) => ({ container, session })));
}

/**
 * #20: the container of this user that `key` names, as the command line takes it (container-key.ts),
 * that this session may act on: its own, one left by `tfnz run -d` (a kept session's), or a tagged
 * one (an external container, which the user's other sessions see anyway). An untagged container of
 * another live session stays that session's own. Another user's are never found (ContainerNotFound).
 */
export function userContainer(s: Session, key: string): UserContainer {
  const found = findByKey(userContainers(s), key, (u) => u.container);
  if (found.session !== s && !found.session.keptWithoutClient && !found.container.tag) {
    throw new ContainerNotFound(`container ${found.container.id} belongs to another live session of yours that did not tag it; tag it (tfnz run --tag) or leave it with tfnz run -d to reach it from elsewhere`);
  }
  return found;
}
