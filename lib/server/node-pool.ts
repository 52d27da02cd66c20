/**
 * The location's nodes: one per engine, each with stats refreshed on a timer. Stats changes and
 * node arrivals are announced through `onChange`, which the server fans out to every session.
 */
import { createHash } from 'node:crypto';
import type { Engine } from '../engines/engine';
import { NoNodes, NodeGone, NodeNotFound, type NodeInfo, type NodeStats } from '../protocol';

export interface PoolNode {
  info: NodeInfo;
  engine: Engine;
}

export type NodeChange =
  | { kind: 'created'; node: NodeInfo }
  | { kind: 'destroyed'; node: string }
  | { kind: 'stats'; node: string; stats: NodeStats };

const NO_CAPACITY: NodeStats = { cpu: 0, memory: 0, paging: 0, containers: 0 };

/** Stable across restarts, so labels and resumed sessions keep naming the same node. */
export function nodeIdFor(address: string): string {
  return 'node-' + createHash('sha256').update(address).digest('hex').slice(0, 10);
}

export class NodePool {
  private readonly nodes = new Map<string, PoolNode>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly onChange: (change: NodeChange) => void,
    private readonly statsIntervalMs = 5000,
  ) {}

  async add(engine: Engine, name?: string): Promise<NodeInfo> {
    const id = nodeIdFor(engine.address);
    const existing = this.nodes.get(id);
    if (existing?.info.alive) return existing.info;
    const description = await engine.describe();
    const stats = await engine.sampleStats();
    const info: NodeInfo = { id, name: name ?? description.name, stats, alive: true };
    this.nodes.set(id, { info, engine });
    this.onChange({ kind: 'created', node: info });
    return info;
  }

  /** Mark a node gone: it stays listed with no spare capacity, as the guide says. */
  markGone(id: string): void {
    const node = this.nodes.get(id);
    if (!node || !node.info.alive) return;
    node.info = { ...node.info, alive: false, stats: NO_CAPACITY };
    this.onChange({ kind: 'destroyed', node: id });
  }

  get(id: string): PoolNode {
    const node = this.nodes.get(id);
    if (!node) throw new NodeNotFound(`no node '${id}' at this location; pick one from loc.rankedNodes()`);
    if (!node.info.alive) throw new NodeGone(`node '${id}' has gone away; pick another with loc.node()`);
    return node;
  }

  /** The first live node, for callers that did not choose one. */
  any(): PoolNode {
    const live = [...this.nodes.values()].find((n) => n.info.alive);
    if (!live) throw new NoNodes('this location has no live nodes');
    return live;
  }

  list(): NodeInfo[] {
    return [...this.nodes.values()].map((n) => n.info);
  }

  engines(): Engine[] {
    return [...this.nodes.values()].map((n) => n.engine);
  }

  startSampling(): void {
    this.timer = setInterval(() => void this.sampleAll(), this.statsIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sampleAll(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].filter((n) => n.info.alive).map(async (node) => {
        try {
          const stats = await node.engine.sampleStats();
          if (sameStats(stats, node.info.stats)) return;
          node.info = { ...node.info, stats };
          this.onChange({ kind: 'stats', node: node.info.id, stats });
        } catch {
          // An engine that stops answering is a node that went away.
          this.markGone(node.info.id);
        }
      }),
    );
  }
}

function sameStats(a: NodeStats, b: NodeStats): boolean {
  return a.cpu === b.cpu && a.memory === b.memory && a.paging === b.paging && a.containers === b.containers;
}
