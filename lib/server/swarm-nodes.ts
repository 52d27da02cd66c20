/**
 * A location's nodes from a Docker Swarm manager: `tfnz location --swarm ADDRESS` or
 * `LocationServer.start({ swarm })`. The manager's node list is the truth, re-read whenever the
 * manager reports a node event (and every few seconds, so that an engine that did not answer is
 * tried again):
 *   - a node that is `ready` and `active` becomes a tfnz node (`nodeArrivals$`), driven on its own
 *     engine with containers on the swarm's attachable overlay (SwarmNodeEngine);
 *   - a node that goes `down`, is drained (`pause` or `drain`), or leaves the swarm is removed: its
 *     containers end with NodeGone saying why, and are removed if its engine still answers.
 * A node's engine is found from its label `tfnz.engine` (an engine address, e.g.
 * `https://10.0.0.12:2376`), else `https://<Status.Addr>:2376`; TLS files come from the address's
 * `certs`, else the manager address's (docs/swarm.md). Labels are read when a node arrives.
 */
import Docker from 'dockerode';
import { dockerOptions } from '../engines/engine-address';
import { SwarmNodeEngine } from '../engines/swarm-node-engine';
import type { LocationServer } from './location-server';

/** How the location follows a swarm. */
export interface SwarmOptions {
  /** A manager's engine address, e.g. https://10.0.0.11:2376?certs=/etc/tfnz/swarm. */
  manager: string;
  /** The attachable overlay network the location's containers join; default 'tfnz'. */
  network?: string;
  /** Engine port of nodes without a `tfnz.engine` label; default 2376. */
  enginePort?: number;
  /** How often the node list is re-read besides on events; default 5000 ms. */
  reconcileMs?: number;
  /** Image of the relay on each node (sh and nc); default busybox. */
  relayImage?: string;
}

/** The node label naming a node's engine address. */
export const ENGINE_LABEL = 'tfnz.engine';

/** What tfnz reads of a swarm node (the Engine API's `Node`). */
export interface SwarmNode {
  ID?: string;
  Spec?: { Labels?: Record<string, string>; Availability?: string };
  Description?: { Hostname?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
}

/** Follows a swarm manager's nodes into a location. */
export class SwarmNodes {
  private readonly manager: Docker;
  private readonly managerUrl: URL;
  private readonly engines = new Map<string, SwarmNodeEngine>();
  private timer?: NodeJS.Timeout;
  private events?: NodeJS.ReadableStream & { destroy?(): void };
  private running: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = false;

  constructor(
    private readonly server: LocationServer,
    private readonly opts: SwarmOptions,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.managerUrl = new URL(opts.manager);
    this.manager = new Docker(dockerOptions(opts.manager));
  }

  /** Read the node list once (ready nodes become tfnz nodes), then follow the manager. */
  async start(): Promise<void> {
    const info = await this.manager.info().catch((err: Error) => {
      throw new Error(`the swarm manager at ${this.managerUrl.origin} does not answer: ${err.message}`);
    });
    const swarm = info.Swarm as { LocalNodeState?: string; ControlAvailable?: boolean } | undefined;
    if (swarm?.LocalNodeState !== 'active' || !swarm.ControlAvailable) {
      throw new Error(`${this.managerUrl.origin} is not a swarm manager (swarm state '${swarm?.LocalNodeState ?? 'none'}'); give --swarm a manager's engine address`);
    }
    await this.reconcile();
    this.follow();
    this.timer = setInterval(() => this.schedule(), this.opts.reconcileMs ?? 5000);
    this.timer.unref();
  }

  /** Stop following; the nodes stay as they are. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.events?.destroy?.();
  }

  /** Re-read the node list once the current reading is done (events come in bursts). */
  private schedule(): void {
    if (this.stopped) return;
    if (this.again) return;
    this.again = true;
    this.running = this.running.then(() => {
      this.again = false;
      return this.reconcile();
    });
  }

  /** The manager's node events, re-subscribed when the stream ends. */
  private follow(): void {
    if (this.stopped) return;
    const retry = () => {
      if (this.stopped) return;
      this.events = undefined;
      setTimeout(() => this.follow(), 1000).unref();
    };
    this.manager.getEvents({ filters: JSON.stringify({ type: ['node'] }) }).then((stream) => {
      this.events = stream as NodeJS.ReadableStream & { destroy?(): void };
      stream.on('data', () => this.schedule());
      stream.once('end', retry);
      stream.once('error', retry);
      if (this.stopped) this.events.destroy?.();
    }, retry);
  }

  private async reconcile(): Promise<void> {
    let listed: SwarmNode[];
    try {
      listed = (await this.manager.listNodes()) as SwarmNode[];
    } catch (err) {
      // The manager away is not the nodes away: they keep running, watched by the node pool.
      this.log(`swarm manager ${this.managerUrl.origin} did not list its nodes: ${(err as Error).message}`);
      return;
    }
    const seen = new Set<string>();
    for (const node of listed) {
      if (!node.ID) continue;
      seen.add(node.ID);
      const name = node.Description?.Hostname ?? node.ID;
      const why = swarmNodeUnusable(node);
      const engine = this.engines.get(node.ID);
      if (why) {
        if (engine) await this.depart(node.ID, engine, `swarm node ${name} ${why}`);
        continue;
      }
      const address = swarmEngineAddress(node, this.opts.manager, this.opts.enginePort);
      if (engine && engine.address === address && this.server.nodes.byAddress(address)?.info.alive) continue;
      const fresh = new SwarmNodeEngine(address, {
        network: this.opts.network ?? 'tfnz', labels: node.Spec?.Labels ?? {},
        relayName: `tfnz-relay-${safeName(this.server.name)}`, agentName: `tfnz-agent-${safeName(this.server.name)}`, relayImage: this.opts.relayImage,
      });
      try {
        await this.server.addEngine(fresh, name);
        this.engines.set(node.ID, fresh);
      } catch (err) {
        this.log(`swarm node ${name} at ${address} did not answer; trying again: ${(err as Error).message}`);
      }
    }
    for (const [id, engine] of this.engines) if (!seen.has(id)) await this.depart(id, engine, 'left the swarm');
  }

  private async depart(id: string, engine: SwarmNodeEngine, reason: string): Promise<void> {
    this.engines.delete(id);
    this.log(`${reason}: its tfnz node departs`);
    await this.server.removeEngine(engine.address, reason);
    await engine.removeRelay().catch(() => undefined);
  }
}

/**
 * A swarm node's engine address: its `tfnz.engine` label, else `https://<its swarm address>:PORT`;
 * an https address without `certs` takes the manager address's.
 */
export function swarmEngineAddress(node: SwarmNode, manager: string, enginePort = 2376): string {
  const labelled = node.Spec?.Labels?.[ENGINE_LABEL];
  let host = node.Status?.Addr;
  // A manager may report 0.0.0.0 as its own address; its manager address says where it is.
  if (!host || host === '0.0.0.0') host = node.ManagerStatus?.Addr?.replace(/:\d+$/, '');
  const address = labelled ?? `https://${host}:${enginePort}`;
  const url = new URL(address);
  const certs = new URL(manager).searchParams.get('certs');
  if (!certs || url.protocol !== 'https:' || url.searchParams.has('certs')) return address;
  return `${address}${url.search ? '&' : '?'}certs=${certs}`;
}

/** Why a swarm node cannot be a tfnz node now, or undefined when it can. */
export function swarmNodeUnusable(node: SwarmNode): string | undefined {
  const state = node.Status?.State ?? 'unknown';
  if (state !== 'ready') return `is ${state}`;
  const availability = node.Spec?.Availability ?? 'active';
  if (availability !== 'active') return `was set to ${availability}`;
  return undefined;
}

/** A location name as part of a container name. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
