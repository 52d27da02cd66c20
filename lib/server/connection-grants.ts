/**
 * Which containers may open connections to which (allow_connection / disallow_connection), kept
 * by the location and enforced by the packet filter of its machine (engines/local-firewall.ts).
 * A grant `target ← from` is one-way, like the original SDK's allow_connection_from: `from` may
 * open connections to `target`, whose replies travel back as established traffic; `target` gets
 * no new way to reach `from`. Grants are remembered by container id, so they survive a reboot
 * (which may change an IP) and go when either container is destroyed.
 *
 * Engines that hold grants themselves (`Engine.holdConnections`: swarm nodes, whose containers meet
 * on an overlay this machine's filter never sees) are told each container's allowed sources instead.
 * LIMIT: other remote engines' containers are neither closed by default nor opened by a grant.
 */
import type { ManagedContainer } from './managed-container';
import { LocalFirewall, isLocalEngine } from '../engines/local-firewall';

/** The location's grants: one per location, on its context (LocationContext.grants). */
export class ConnectionGrants {
  /** `${target} ${from}` pairs. */
  private readonly grants = new Set<string>();
  private readonly firewall: LocalFirewall;

  /** `containers`: every container of the location, by id (LocationContext.containers). */
  constructor(location: string, private readonly containers: ReadonlyMap<string, ManagedContainer>) {
    this.firewall = new LocalFirewall(location);
  }

  /** The container runs at `ip` (first boot or reboot): close it, then reopen what was granted. */
  async containerUp(c: ManagedContainer, ip: string | undefined): Promise<void> {
    if (c.node.engine.holdConnections) return this.heldUp(c, ip);
    if (!isLocalEngine(c.node.engine.address)) return;
    if (!ip) return void (await this.firewall.forget(c.id));
    await this.firewall.deny(c.id, ip); // also drops every earlier rule about this container
    for (const key of this.grants) {
      const [target, from] = key.split(' ');
      if (target === c.id) await this.apply(target, ip, from, this.ipOf(from));
      else if (from === c.id) await this.apply(target, this.ipOf(target), from, ip);
    }
  }

  /** The container stopped (its IP may go to another): drop its rules; forget its grants if destroyed. */
  containerDown(id: string, destroyed: boolean): Promise<void> {
    if (destroyed) for (const key of [...this.grants]) if (key.split(' ').includes(id)) this.grants.delete(key);
    return this.firewall.forget(id).catch(() => undefined);
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
    await this.firewall.disallow(targetId, fromId);
  }

  /**
   * At start: remove this location's rules about containers that no longer exist. (Rules of other
   * locations are left alone: their deny rules only fail closed, and a tfnz container taking over
   * an address clears every rule about it first — see LocalFirewall.deny.)
   */
  async removeStale(liveIds: Set<string>): Promise<void> {
    await this.firewall.remove((e) => e.ids.some((id) => !liveIds.has(id)));
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

  private async apply(target: string, targetIp: string | undefined, from: string, fromIp: string | undefined): Promise<void> {
    const local = [target, from].every((id) => {
      const address = this.containers.get(id)?.node.engine.address;
      return address !== undefined && isLocalEngine(address);
    });
    if (!local || !targetIp || !fromIp) return;
    await this.firewall.allow(target, targetIp, from, fromIp);
  }
}
