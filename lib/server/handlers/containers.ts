/** Spawning, waking, rebooting and destroying containers, and their main process's stdin. */
import { BadRequest, ContainerNotRunning } from '../../protocol';
import type { Mount } from '../../engines/engine';
import { ManagedContainer } from '../managed-container';
import { LABEL } from '../location-context';
import type { Session } from '../session';
import type { CommandHandlers, MessageHandlers } from './handler';
import { ownContainer } from './ownership';
import { containerOptions } from '../container-options';
import { containerResources } from '../container-limits';

/** Resolve [volume key, mount point] pairs (mount points normalised by the schema) to engine mounts on `node`. */
function volumeMounts(s: Session, pairs: [string, string][] | undefined, node: string): Mount[] | undefined {
  return pairs?.map(([key, target]) => {
    const v = s.ctx.volumes.resolve(s.user, key);
    if (v.node.info.id !== node) {
      throw new BadRequest(`volume ${v.tag ?? v.id} lives on node ${v.node.info.name}; spawn the container there (loc.rankedNodes().find(n => n.id === '${v.node.info.id}'))`);
    }
    return { volume: s.ctx.volumes.engineName(v), target };
  });
}

export const containerCommands = {
  async spawn_container(s, p) {
    const id = p.container;
    // Claimed before the first await: a second spawn with this id is refused here, whichever
    // session sends it, and can never reach the clean-up below with the winner's id.
    if (s.ctx.containers.has(id) || s.ctx.spawning.has(id)) throw new BadRequest(`container id '${id}' is already in use; generate a fresh one`);
    s.ctx.spawning.add(id);
    let container: ManagedContainer | undefined;
    let tagReserved = false;
    try {
      const options = containerOptions(p, !!s.ctx.allowPrivileged); // #16
      const node = s.ctx.nodes.get(p.node);
      const mounts = volumeMounts(s, p.volumes, node.info.id);
      s.ctx.quotas.container(s.user);
      const labels: Record<string, string> = {
        ...s.ctx.labels, [LABEL.location]: s.ctx.name, [LABEL.session]: s.id, [LABEL.user]: s.user, [LABEL.container]: id,
      };
      if (p.tag) labels[LABEL.tag] = p.tag;
      // The image as this node will run it: its own, or the user's from the location's cache.
      // #19: or pulled by the node from its registry, with this spawn's credentials only.
      // Both ask the engine (the image; its network, on the first spawn there): at once.
      const [ref, dns] = await Promise.all([
        s.ctx.imageResolver.resolve(node.engine, s.user, p.image, p.imageId, {
          policy: p.pull ?? 'missing',
          auth: p.registryAuth,
          onProgress: (progress) => s.emit('image_pull', { pull: id, progress: { ...progress, node: node.info.id } }),
        }),
        s.ctx.nameServersFor?.(node),
      ]);
      const spec = { name: `tfnz-${id}`, dns, image: ref, env: p.env ?? [], command: p.command, sleep: !!p.sleep, stdin: !!p.stdin, labels, mounts, options, resources: containerResources(s.ctx.limits), engineLog: s.ctx.engineLog };
      // Last check before anything is made: the tag is unique among all the user's containers.
      if (p.tag) {
        s.ctx.externals.reserve(s.user, s.id, id, p.tag);
        tagReserved = true;
      }
      const tag = p.tag;
      const made: ManagedContainer = new ManagedContainer(id, node, spec, tag, {
        status: (params) => {
          if (params.status === 'destroyed' || params.status === 'exited') void s.ctx.grants.containerDown(id, params.status === 'destroyed');
          if (params.status === 'destroyed') {
            s.tunnels.destroyFor(id);
            s.ctx.sites.forgetContainer(id);
            s.ctx.externals.release(id);
          } else {
            if (params.status === 'running' && tag) s.ctx.externals.publish(id, { id, tag, node: node.info.id, privateIp: params.privateIp });
            s.ctx.sites.memberChanged(id);
          }
          s.emit('container_status', params);
        },
        output: (stream, data) => s.emit('container_output', { container: id, stream }, data),
        starting: () => s.ctx.grants.containerStarting(made),
        beforeRunning: (ip): Promise<void> => s.ctx.grants.containerUp(made, ip),
        dead: () => s.ctx.grants.containerDown(id, false),
      }, p.preBootFiles ?? [], s.ctx.logLimits);
      container = made;
      s.containers.set(id, made);
      s.ctx.containers.set(id, made);
      s.ctx.spawning.delete(id);
      await made.spawn();
    } catch (err) {
      // Undo only what this spawn made: the id, entries and tag are ours alone (claimed above).
      s.ctx.spawning.delete(id);
      if (container && s.containers.get(id) === container) s.containers.delete(id);
      if (container && s.ctx.containers.get(id) === container) s.ctx.containers.delete(id);
      if (tagReserved) s.ctx.externals.release(id);
      throw err;
    }
    return {};
  },

  async start_container(s, p) {
    const c = ownContainer(s, p.container);
    if (c.status !== 'running') throw new ContainerNotRunning(`container ${c.id} is ${c.status}; only a running container can be woken`);
    await c.start();
    return {};
  },

  async destroy_container(s, p) {
    const c = ownContainer(s, p.container);
    await c.destroy();
    // Its packet-filter rules were dropped on `destroyed`; this resolves once that is done.
    await s.ctx.grants.containerDown(c.id, true);
    s.containers.delete(c.id);
    s.ctx.containers.delete(c.id);
    return {};
  },

  async reboot_container(s, p) {
    await ownContainer(s, p.container).reboot(!!p.resetFilesystem);
    return {};
  },
} satisfies Partial<CommandHandlers>;

export const containerMessages = {
  container_stdin: (s, p, bulk) => ownContainer(s, p.container).writeStdin(bulk),
} satisfies Partial<MessageHandlers>;
