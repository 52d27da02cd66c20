/**
 * Connection grants on a swarm's overlay, held in each receiving container's own network
 * namespace: what arrives over the overlay to open a new connection is dropped unless it comes
 * from an allowed container (or the node's relay, which is how the location reaches containers).
 * Replies and the container's own outgoing connections are untouched: one way, like grants on one
 * host (local-firewall.ts).
 *
 * The rules are set by a small agent container per node (busybox, with the capabilities to enter
 * another container's network namespace and the host's file system at /host) that runs the
 * node's own `nsenter` and `iptables`. The location is root on every engine it drives anyway;
 * the agent needs nothing from the network. Each change costs one exec (~0.2 s measured).
 */
import type Docker from 'dockerode';
import { EngineError } from '../protocol';
import { dockerCall } from './docker-streams';

const PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';

/** One node's agent and the rules it holds. */
export class SwarmFirewall {
  private agent?: Promise<Docker.Container>;
  private subnet?: Promise<string>;

  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly name: string,
    private readonly image = 'busybox',
  ) {}

  /**
   * Close the container at overlay address `ip` (on this node) to new connections from the overlay,
   * except from `allowed` addresses and `relayIp`. Replaces what was held for it before.
   */
  async hold(ip: string, allowed: string[], relayIp: string): Promise<void> {
    const [pid, subnet, agent] = await Promise.all([this.pidOf(ip), this.overlaySubnet(), this.ensureAgent()]);
    if (!pid) return; // gone meanwhile: nothing to hold
    const rules = [
      'iptables -N TFNZ 2>/dev/null || iptables -F TFNZ',
      'iptables -C INPUT -j TFNZ 2>/dev/null || iptables -I INPUT -j TFNZ',
      'iptables -A TFNZ -i lo -j ACCEPT',
      'iptables -A TFNZ -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
      ...[relayIp, ...allowed].map((from) => `iptables -A TFNZ -s ${from} -j ACCEPT`),
      `iptables -A TFNZ -s ${subnet} -m conntrack --ctstate NEW -j DROP`,
    ].join(' && ');
    const exec = await dockerCall(
      () => agent.exec({ Cmd: ['chroot', '/host', 'nsenter', '-t', String(pid), '-n', 'sh', '-c', rules], Env: [PATH], AttachStdout: true, AttachStderr: true }),
      'setting connection rules',
    );
    const stream = await dockerCall(() => exec.start({ hijack: true, stdin: false }), 'setting connection rules');
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('error', () => resolve());
      stream.resume();
    });
    const { ExitCode } = await dockerCall(() => exec.inspect(), 'setting connection rules');
    if (ExitCode !== 0) throw new EngineError(`the node's agent could not set connection rules for ${ip} (exit ${ExitCode}); the node needs iptables and nsenter`);
  }

  /** Remove the agent (the location stops using this node). */
  async remove(): Promise<void> {
    this.agent = undefined;
    await this.docker.getContainer(this.name).remove({ force: true }).catch(() => undefined);
  }

  /** The host pid of the container at overlay address `ip` on this node. */
  private async pidOf(ip: string): Promise<number | undefined> {
    const network = await dockerCall(() => this.docker.getNetwork(this.network).inspect(), 'reading the overlay') as { Containers?: Record<string, { IPv4Address?: string }> };
    const id = Object.entries(network.Containers ?? {}).find(([, c]) => c.IPv4Address?.split('/')[0] === ip)?.[0];
    if (!id) return undefined;
    const info = await dockerCall(() => this.docker.getContainer(id).inspect(), 'inspecting the container');
    return info.State.Running ? info.State.Pid : undefined;
  }

  private overlaySubnet(): Promise<string> {
    this.subnet ??= dockerCall(() => this.docker.getNetwork(this.network).inspect(), 'reading the overlay').then((n: { IPAM?: { Config?: { Subnet?: string }[] } }) => {
      const subnet = n.IPAM?.Config?.[0]?.Subnet;
      if (!subnet) throw new EngineError(`the overlay '${this.network}' has no subnet`);
      return subnet;
    });
    this.subnet.catch(() => (this.subnet = undefined));
    return this.subnet;
  }

  private ensureAgent(): Promise<Docker.Container> {
    this.agent ??= this.startAgent();
    this.agent.catch(() => (this.agent = undefined));
    return this.agent;
  }

  private async startAgent(): Promise<Docker.Container> {
    await this.docker.getContainer(this.name).remove({ force: true }).catch(() => undefined);
    const agent = await dockerCall(
      () =>
        this.docker.createContainer({
          name: this.name, Image: this.image, Entrypoint: ['sleep', '2147483647'], Labels: { 'tfnz.agent': this.name },
          HostConfig: {
            NetworkMode: 'none', PidMode: 'host', Binds: ['/:/host'], RestartPolicy: { Name: 'unless-stopped' },
            CapAdd: ['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_CHROOT'], SecurityOpt: ['apparmor=unconfined', 'seccomp=unconfined'],
          },
        }),
      `creating the connection agent (it needs the '${this.image}' image on every node)`,
    );
    await dockerCall(() => agent.start(), 'starting the connection agent');
    return agent;
  }
}
