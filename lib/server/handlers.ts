/**
 * What the location does for each request and one-way message. Parameters are checked here, at
 * run time, because they come off the wire; the catalogue's types keep both ends in step.
 */
import {
  BadRequest, ContainerNotFound, ContainerNotRunning, TagInUse,
  type CommandName, type MessageName, type ResultOf,
} from '../protocol';
import { bool, int, optPairs, optStr, optStrings, port, str } from '../protocol/validate';
import { ManagedContainer } from './managed-container';
import { LABEL } from './location-context';
import type { Session } from './session';

type Params = Record<string, unknown>;
type CommandHandlers = { [C in CommandName]: (s: Session, p: Params) => Promise<ResultOf<C>> };
type MessageHandlers = { [M in MessageName]: (s: Session, p: Params, bulk: Uint8Array) => void };

const ID = /^[A-Za-z0-9_-]{8,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_TUNNEL_TIMEOUT_S = 600;

function newId(p: Params, key: string): string {
  const id = str(p, key);
  if (!ID.test(id)) throw new BadRequest(`'${key}' must be 8-64 characters of A-Z a-z 0-9 _ -`);
  return id;
}

function ownContainer(s: Session, id: string): ManagedContainer {
  const c = s.containers.get(id);
  if (!c) throw new ContainerNotFound(`no container '${id}' in this session`);
  return c;
}

export const commandHandlers: CommandHandlers = {
  async open_session(s, p) {
    if (s.opened) throw new BadRequest('the session is already open');
    str(p, 'client');
    s.user = optStr(p, 'user') ?? 'local';
    s.opened = true;
    // The offer goes out right after the reply, so the client folds it into a fresh state.
    setImmediate(() =>
      s.emit('resource_offer', {
        session: s.id, user: s.user, location: s.ctx.name, nodes: s.ctx.nodes.list(),
        containers: [], volumes: [], externals: [], endpoints: [],
      }),
    );
    return { session: s.id, user: s.user, location: s.ctx.name };
  },

  async close_session(s) {
    await s.end();
    return {};
  },

  async spawn_container(s, p) {
    const id = newId(p, 'container');
    if (s.ctx.containers.has(id)) throw new BadRequest(`container id '${id}' is already in use; generate a fresh one`);
    const node = s.ctx.nodes.get(str(p, 'node'));
    const image = str(p, 'image');
    const env = optPairs(p, 'env') ?? [];
    const badName = env.find(([name]) => !ENV_NAME.test(name));
    if (badName) throw new BadRequest(`environment variable name '${badName[0]}' must match ${ENV_NAME.source}`);
    const command = optStrings(p, 'command');
    const tag = optStr(p, 'tag');
    if (tag && [...s.containers.values()].some((c) => c.tag === tag && c.status !== 'destroyed')) {
      throw new TagInUse(`a container tagged '${tag}' already exists; destroy it or choose another tag`);
    }
    const labels: Record<string, string> = {
      ...s.ctx.labels, [LABEL.location]: s.ctx.name, [LABEL.session]: s.id, [LABEL.user]: s.user, [LABEL.container]: id,
    };
    if (tag) labels[LABEL.tag] = tag;
    const spec = { name: `tfnz-${id}`, image, env, command, sleep: bool(p, 'sleep'), stdin: bool(p, 'stdin'), labels };
    const container = new ManagedContainer(id, node, spec, tag, {
      status: (params) => {
        if (params.status === 'destroyed') s.tunnels.destroyFor(id);
        s.emit('container_status', params);
      },
      output: (stream, data) => s.emit('container_output', { container: id, stream }, data),
    });
    s.containers.set(id, container);
    s.ctx.containers.set(id, container);
    try {
      await container.spawn();
    } catch (err) {
      s.containers.delete(id);
      s.ctx.containers.delete(id);
      throw err;
    }
    return {};
  },

  async start_container(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    if (c.status !== 'running') throw new ContainerNotRunning(`container ${c.id} is ${c.status}; only a running container can be woken`);
    await c.start();
    return {};
  },

  async destroy_container(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    await c.destroy();
    s.containers.delete(c.id);
    s.ctx.containers.delete(c.id);
    return {};
  },

  async create_tunnel(s, p) {
    const tunnel = newId(p, 'tunnel');
    const c = ownContainer(s, str(p, 'container'));
    if (c.status === 'exited' || c.status === 'destroyed') {
      throw new ContainerNotRunning(`container ${c.id} is ${c.status}; tunnels go to live containers`);
    }
    const timeout = int(p, 'timeout', 1, MAX_TUNNEL_TIMEOUT_S);
    s.tunnels.create(tunnel, c, port(p, 'port'), timeout * 1000);
    return {};
  },

  async destroy_tunnel(s, p) {
    s.tunnels.destroy(str(p, 'tunnel'));
    return {};
  },
};

const conn = (p: Params) => int(p, 'conn', 1);

export const messageHandlers: MessageHandlers = {
  tunnel_open: (s, p) => s.tunnels.open(str(p, 'tunnel'), conn(p)),
  tunnel_data: (s, p, bulk) => s.tunnels.data(conn(p), bulk),
  tunnel_ack: (s, p) => s.tunnels.ack(conn(p), int(p, 'bytes', 1)),
  tunnel_end: (s, p) => s.tunnels.end(conn(p)),
  tunnel_close: (s, p) => s.tunnels.close(conn(p)),
  container_stdin: (s, p, bulk) => ownContainer(s, str(p, 'container')).writeStdin(bulk),
};
