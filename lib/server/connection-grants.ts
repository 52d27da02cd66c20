/**
 * Which containers may open connections to which (allow_connection / disallow_connection), kept
 * by the location and enforced by the packet filter of the host where the receiving container runs
 * (engines/host-firewall.ts). A grant `target ← from` is one-way, like the original SDK's
 * allow_connection_from: `from` may open connections to `target`, whose replies travel back as
 * established traffic; `target` gets no new way to reach `from`. Grants are remembered by container
 * id, so they survive a reboot (which may change an IP) and go when either container is destroyed.
 *
 * Hosts: engines on the location's machine (unix://) share its own packet filter. On any other
 * host the location runs `iptables` through its agent container there (engines/docker-host-agent.ts),
 * created when the node is first needed. Every `checkEveryMs` the agents are checked; one that is
 * new or restarted (its host may have rebooted and lost its rules) gets the node's whole rule set
 * again. At close, this location's rules and agents go.
 *
 * LIMIT: a grant between a container on the location's machine and one on another host is only as
 * good as the addresses the receiving host sees (the main engine masquerades its containers).
 *
 * Engines that hold grants themselves (`Engine.holdConnections`: swarm nodes, whose containers meet
 * on an overlay no host filter sees) are told each container's allowed sources instead.
 */
import type { ManagedContainer } from './managed-container';
import type { NodePool, PoolNode } from './node-pool';
import type { HostCommandResult, HostAgent } from '../engines/docker-host-agent';
import { HostFirewall, isLocalEngine, type IptablesRunner } from '../engines/host-firewall';
import { localAddressTowards } from './location-address';

/** How often the agents on other hosts are checked (and a restarted one given its rules back). */
export const AGENT_CHECK_MS = 5_000;

/** The firewall of a node on another host, worked through the location's agent there. */
interface RemoteHost {
  agent: HostAgent;
  firewall: HostFirewall;
  /** The latest check of the agent (creating it the first time). */
  checked: Promise<void>;
}

/** The location's grants: one per location, on its context (LocationContext.grants). */
export class ConnectionGrants {
  /** `${target} ${from}` pairs. */
  private readonly grants = new Set<string>();
  private readonly local: HostFirewall;
  /** By node id. */
  private readonly remote = new Map<string, RemoteHost>();
  /** Listings of the filter table taken while a container started (containerStarting), by container id. */
  private readonly listings = new Map<string, Promise<string | undefined>>();
  private readonly timer: NodeJS.Timeout;

  /**
   * `containers`: every container of the location, by id (LocationContext.containers); `nodes`:
   * its nodes (undefined: only the location's own machine is filtered).
   */
  constructor(
    private readonly location: string,
    private readonly containers: ReadonlyMap<string, ManagedContainer>,
    private readonly nodes?: NodePool,
    checkEveryMs = AGENT_CHECK_MS,
  ) {
    this.local = new HostFirewall(location);
    this.timer = setInterval(() => this.checkAgents(), checkEveryMs);
    this.timer.unref();
  }

  /**
   * The engine is about to start the container for the first time: list its host's rules now,
   * while it starts, so containerUp has only its own rule to add (HostFirewall.deny).
   */
  containerStarting(c: ManagedContainer): void {
    if (c.node.engine.holdConnections) return;
    const listed = this.firewallOf(c.node).then((firewall) => firewall?.listing(), () => undefined);
    this.listings.set(c.id, listed);
  }

  /**
   * The container is at `ip` (first boot or reboot; maybe still starting, when its engine says the
   * address early): close it, then reopen what was granted. It is reported running after this.
   */
  async containerUp(c: ManagedContainer, ip: string | undefined): Promise<void> {
    const listed = this.listings.get(c.id);
    this.listings.delete(c.id);
    if (c.node.engine.holdConnections) return this.heldUp(c, ip);
    const firewall = await this.firewallOf(c.node);
    if (!firewall) return;
    if (!ip) return void (await this.forgetEverywhere(c.id));
    await this.close(firewall, c.id, ip, listed);
    for (const key of this.grants) {
      const [target, from] = key.split(' ');
      if (from === c.id) await this.apply(target, this.ipOf(target), from, ip);
    }
  }

  /** The container stopped (its IP may go to another): drop its rules; forget its grants if destroyed. */
  containerDown(id: string, destroyed: boolean): Promise<void> {
    this.listings.delete(id); // it failed to start
    if (destroyed) for (const key of [...this.grants]) if (key.split(' ').includes(id)) this.grants.delete(key);
    return this.forgetEverywhere(id);
  }

  async allow(target: ManagedContainer, from: ManagedContainer): Promise<void> {
    const key = `${target.id} ${from.id}`;
    if (this.grants.has(key)) return;
    this.grants.add(key);
    if (target.node.engine.holdConnections) return this.hold(target);
    await this.apply(target.id, target.privateIp, from.id, from.privateIp);
  }

  async disallow(targetId: string, fromId: string): Promise<void> {
    this.grants.delete(`${targetId} ${fromId}`);
    const target = this.containers.get(targetId);
    if (target?.node.engine.holdConnections) return this.hold(target);
    const firewall = target ? await this.firewallOf(target.node) : this.local;
    await firewall?.disallow(targetId, fromId);
  }

  /**
   * At start: remove this location's rules about containers that no longer exist, here and on
   * every other host (whose agent is created now). Rules of other locations are left alone: their
   * deny rules only fail closed, and a tfnz container taking over an address clears every rule
   * about it first — see HostFirewall.deny.
   */
  async removeStale(liveIds: Set<string>): Promise<void> {
    const stale = (e: { ids: string[] }): boolean => e.ids.some((id) => !liveIds.has(id));
    const remote = (this.nodes?.list() ?? []).filter((n) => n.alive).map((n) => this.nodes!.find(n.id)!);
    await Promise.all([
      this.local.remove(stale),
      ...remote.map(async (node) => (await this.firewallOf(node))?.remove(stale)),
    ]);
  }

  /** The location is closing: its rules go from every host, and its agents with them. */
  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([
      this.local.removeAll().catch(() => undefined),
      ...[...this.remote.entries()].filter(([id]) => this.nodes?.find(id)?.info.alive).map(async ([, host]) => {
        await host.firewall.removeAll().catch(() => undefined);
        await host.agent.remove();
      }),
    ]);
    this.remote.clear();
  }

  /**
   * Engines that hold grants themselves (a swarm's overlay): the container at `ip` is closed but for
   * what was granted to it, and those it was granted to reach learn its (new) address.
   */
  private async heldUp(c: ManagedContainer, ip: string | undefined): Promise<void> {
    if (ip) await this.hold(c, ip, c.id, ip);
    for (const key of this.grants) {
      const [target, from] = key.split(' ');
      const t = this.containers.get(target);
      if (from === c.id && ip && t && target !== c.id) await this.hold(t, undefined, c.id, ip);
    }
  }

  /** Have `target`'s engine hold its grants; `knownId` at `knownIp` is one that is not yet reported running. */
  private async hold(target: ManagedContainer, targetIp = this.ipOf(target.id), knownId?: string, knownIp?: string): Promise<void> {
    if (!targetIp || !target.node.engine.holdConnections) return;
    const allowed: string[] = [];
    for (const key of this.grants) {
      const [to, from] = key.split(' ');
      const fromIp = from === knownId ? knownIp : this.ipOf(from);
      if (to === target.id && fromIp) allowed.push(fromIp);
    }
    await target.node.engine.holdConnections(targetIp, allowed);
  }

  private ipOf(id: string): string | undefined {
    const c = this.containers.get(id);
    return c?.status === 'running' ? c.privateIp : undefined;
  }

  /** Close the container at `ip` to new connections, then open what was granted towards it. */
  private async close(firewall: HostFirewall, id: string, ip: string, listed?: Promise<string | undefined>): Promise<void> {
    await firewall.deny(id, ip, listed); // also drops every earlier rule about this container
    for (const key of this.grants) {
      const [target, from] = key.split(' ');
      const fromIp = this.ipOf(from);
      if (target === id && fromIp) await firewall.allow(target, ip, from, fromIp);
    }
  }

  /** A grant is enforced where its target runs. */
  private async apply(target: string, targetIp: string | undefined, from: string, fromIp: string | undefined): Promise<void> {
    const node = this.containers.get(target)?.node;
    if (!node || !targetIp || !fromIp) return;
    await (await this.firewallOf(node))?.allow(target, targetIp, from, fromIp);
  }

  private async forgetEverywhere(id: string): Promise<void> {
    const remote = [...this.remote.entries()].filter(([node]) => this.nodes?.find(node)?.info.alive).map(([, h]) => h.firewall);
    await Promise.all([this.local, ...remote].map((f) => f.forget(id).catch(() => undefined)));
  }

  /** The packet filter of a node's host; undefined when the location cannot reach it. */
  private async firewallOf(node: PoolNode): Promise<HostFirewall | undefined> {
    if (isLocalEngine(node.engine.address)) return this.local;
    if (node.engine.holdConnections) return undefined; // it holds grants itself (a swarm's overlay)
    let host = this.remote.get(node.info.id);
    if (!host) {
      const agent = node.engine.hostAgent?.(this.location);
      if (!agent) return undefined;
      const firewall = new HostFirewall(this.location, agentIptables(agent));
      host = { agent, firewall, checked: Promise.resolve() };
      this.remote.set(node.info.id, host);
      host.checked = handled(this.checkAgent(node.info.id, host));
    }
    // Fail closed: without its agent the host's containers cannot be shut off from each other.
    await host.checked.catch(() => (host.checked = handled(this.checkAgent(node.info.id, host))));
    return host.firewall;
  }

  /** Every live node's agent: one that is new or restarted gets the node's rules again. */
  private checkAgents(): void {
    for (const [id, host] of this.remote) {
      if (!this.nodes?.find(id)?.info.alive) continue;
      host.checked = handled(host.checked.catch(() => undefined).then(() => this.checkAgent(id, host)));
    }
  }

  private async checkAgent(nodeId: string, host: RemoteHost): Promise<void> {
    if (!(await host.agent.ensure())) return;
    const node = this.nodes?.find(nodeId);
    if (!node) return;
    host.firewall.rebuildChains();
    await host.firewall.admitLocation(await localAddressTowards(node.engine.address));
    for (const c of this.containers.values()) {
      if (c.node.info.id === nodeId && c.status === 'running' && c.privateIp) await this.close(host.firewall, c.id, c.privateIp);
    }
  }
}

/** `work`, marked as handled (a failed check is reported to whoever awaits it next, not to the process). */
function handled<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** `iptables` on another host, through the location's agent there. */
function agentIptables(agent: HostAgent): IptablesRunner {
  return async (args) => {
    const result: HostCommandResult = await agent.run(['iptables', '-w', ...args]);
    if (result.code !== 0) throw Object.assign(new Error(result.stderr.trim() || `iptables exited with ${result.code}`), { stderr: result.stderr });
    return result.stdout;
  };
}
