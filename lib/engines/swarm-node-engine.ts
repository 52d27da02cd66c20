/**
 * A node of a Docker Swarm as a tfnz node: its own Docker Engine (reached over TLS like any other),
 * whose containers join the swarm's attachable overlay network instead of the default bridge, so
 * containers on different hosts reach each other with no routes. The location, not being on the
 * overlay, reaches them through the node's relay (swarm-relay.ts).
 */
import type { Socket } from 'node:net';
import Docker from 'dockerode';
import { DockerEngine } from './docker-engine';
import { dockerOptions } from './engine-address';
import { SwarmRelay } from './swarm-relay';
import { SwarmFirewall } from './swarm-firewall';

/** How one swarm node's engine is driven. */
export interface SwarmNodeEngineOptions {
  /** The attachable overlay network every container joins. */
  network: string;
  /** The swarm node's labels (`Spec.Labels`), shown on `Node.labels`. */
  labels?: Record<string, string>;
  /** Name of the relay container on this node (one per location). */
  relayName: string;
  /** Name of the agent container that holds connection rules on this node (one per location). */
  agentName: string;
  /** Image the relay and the agent run (sh, busybox nc, chroot); default busybox. */
  relayImage?: string;
}

/** One swarm node's Docker Engine: containers on the overlay, dialled through a relay. */
export class SwarmNodeEngine extends DockerEngine {
  private readonly relay: SwarmRelay;
  private readonly firewall: SwarmFirewall;

  /** `address`: the node's engine (https://HOST:2376?certs=DIR); the relay is reached at HOST. */
  constructor(address: string, opts: SwarmNodeEngineOptions) {
    super(address, { network: opts.network, labels: opts.labels });
    const url = new URL(address);
    const host = url.protocol === 'unix:' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, '');
    // A client of its own: DockerEngine's stays private, so the published types never name dockerode.
    const docker = new Docker(dockerOptions(address));
    this.relay = new SwarmRelay(docker, host, opts.network, opts.relayName, opts.relayImage);
    this.firewall = new SwarmFirewall(docker, opts.network, opts.agentName, opts.relayImage);
  }

  /** Held in the container's own network namespace by the node's agent (swarm-firewall.ts). */
  async holdConnections(ip: string, allowedFrom: string[]): Promise<void> {
    await this.firewall.hold(ip, allowedFrom, await this.relay.overlayIp());
  }

  /** Through the node's relay on the overlay (started on first use). */
  dial(ip: string, port: number): Promise<Socket> {
    return this.relay.dial(ip, port);
  }

  /** Remove the node's relay (the location stops using this node). */
  async removeRelay(): Promise<void> {
    await Promise.all([this.relay.remove(), this.firewall.remove()]);
  }
}
