/**
 * #20: the command line's view across all of a user's sessions: keeping a session without its
 * client (tfnz run -d), listing (tfnz ps), stopping and removing (tfnz stop, tfnz rm). Only ever
 * the caller's own user's containers.
 */
import { ContainerNotRunning } from '../../protocol';
import type { CommandHandlers } from './handler';
import { userContainer, userContainers } from './ownership';

export const userContainerCommands = {
  async keep_session(s) {
    s.keepUntilEmpty();
    return {};
  },

  async user_containers(s, p) {
    const containers = userContainers(s)
      .filter(({ container: c }) => p.all || c.status === 'running' || c.status === 'spawning')
      .map(({ container: c, session }) => ({
        id: c.id, tag: c.tag, image: c.image, node: c.node.info.id, status: c.status, created: c.created, exitCode: c.exitCode,
        session: session.id, detached: session.keptWithoutClient, ports: session.tunnels.portsOf(c.id),
      }));
    return { containers };
  },

  async stop_user_container(s, p) {
    const { container } = userContainer(s, p.container);
    await container.stop();
    return { container: container.id };
  },

  async remove_user_container(s, p) {
    const { container, session } = userContainer(s, p.container);
    if (!p.force && (container.status === 'running' || container.status === 'spawning')) {
      throw new ContainerNotRunning(`container ${container.id} is ${container.status}; stop it first (tfnz stop ${p.container}) or force it (tfnz rm -f ${p.container})`);
    }
    await container.destroy();
    await s.ctx.grants.containerDown(container.id, true);
    session.containers.delete(container.id);
    s.ctx.containers.delete(container.id);
    session.endIfEmpty();
    return { container: container.id };
  },
} satisfies Partial<CommandHandlers>;
