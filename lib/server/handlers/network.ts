/**
 * Reaching containers: tunnels from the client, connections between containers (the packet
 * filter's grants), and waiting for a container's service to answer.
 */
import { BadRequest, ContainerNotFound, ContainerNotRunning } from '../../protocol';
import { waitHttp200, waitTcp } from '../wait-for';
import type { CommandHandlers, MessageHandlers } from './handler';
import { connectable, ownContainer } from './ownership';

export const networkCommands = {
  async create_tunnel(s, p) {
    const c = ownContainer(s, p.container);
    if (c.status === 'exited' || c.status === 'destroyed') {
      throw new ContainerNotRunning(`container ${c.id} is ${c.status}; tunnels go to live containers`);
    }
    s.ctx.quotas.tunnel(s.user);
    s.tunnels.create(p.tunnel, c, p.port, p.timeout * 1000);
    return {};
  },

  async destroy_tunnel(s, p) {
    s.tunnels.destroy(p.tunnel);
    return {};
  },

  async allow_connection(s, p) {
    const target = connectable(s, p.container, 'container');
    const from = connectable(s, p.from, "'from' container");
    if (target.id === from.id) throw new BadRequest(`a container can always reach itself; 'from' must be another container`);
    for (const c of [target, from]) c.runningEngineId('allowing a connection');
    await s.ctx.grants.allow(target, from);
    return {};
  },

  async disallow_connection(s, p) {
    const target = connectable(s, p.container, 'container');
    const { from } = p;
    // `from` may be gone already (destroyed, or no longer external): its grant goes all the same.
    if (!s.containers.has(from) && !s.ctx.externals.find(s.user, s.id, from) && s.ctx.containers.has(from)) {
      throw new ContainerNotFound(`'from' container '${from}' is neither a container of this session nor an external container of yours`);
    }
    await s.ctx.grants.disallow(target.id, from);
    return {};
  },

  async wait_tcp(s, p) {
    await waitTcp(ownContainer(s, p.container), p.port, p.timeout * 1000);
    return {};
  },

  async wait_http_200(s, p) {
    await waitHttp200(ownContainer(s, p.container), p.port, p.fqdn, p.path, p.timeout * 1000);
    return {};
  },

  async tunnel_link(s, p) {
    return { secret: s.tunnels.link(p.tunnel, p.conn) };
  },
} satisfies Partial<CommandHandlers>;

export const networkMessages = {
  tunnel_open: (s, p) => s.tunnels.open(p.tunnel, p.conn),
  tunnel_data: (s, p, bulk) => s.tunnels.data(p.conn, bulk),
  tunnel_ack: (s, p) => s.tunnels.ack(p.conn, p.bytes),
  tunnel_end: (s, p) => s.tunnels.end(p.conn, p.bytes),
  tunnel_close: (s, p) => s.tunnels.close(p.conn),
} satisfies Partial<MessageHandlers>;
