/**
 * The location's nodes: one per engine, each with stats refreshed on a timer. Stats changes, node
 * arrivals and departures are announced through `onChange`, which the server fans out to every
 * session.
 *
 * Life of a node:
 *  - `add(engine)`: described and sampled, then live (`created`).
 *  - It goes away (`destroyed`) when its engine refuses connections (dockerd is down), or when it
 *    has not answered for `goneAfterMs` (default 15 s): its host's link is cut, the machine died.
 *    Sampling rounds, a broken event stream (`Engine.watch`) and containers' failed engine calls
 *    (`checkAlive`) notice it; a link that flaps for less than `goneAfterMs` costs nothing. A gone
 *    node stays listed, not alive, with no spare capacity, so nothing picks it.
 *  - A node that went away by itself is probed on every sampling round; when its engine answers
 *    again it is live once more (`created` again, same id, since the id derives from the address).
 *  - `remove(id)` retires a node on purpose: like going away, but it is not probed any more until
 *    `add` is called for the same address again.
 */
import { createHash } from 'node:crypto';
import { isEngineDown, type Engine } from '../engines/engine';
import { isLocalEngine } from '../engines/host-firewall';
import { NoNodes, NodeGone, NodeNotFound, type NodeInfo, type NodeStats } from '../protocol';

/** A node in the pool: its info and its engine. */
export interface PoolNode {
  info: NodeInfo;
  engine: Engine;
  /**
   * Probe the engine now; when it does not answer the node is marked gone (and every container
   * on it reported). Resolves with whether the node is alive.
   */
  checkAlive(): Promise<boolean>;
}

export type NodeChange =
  | { kind: 'created'; node: NodeInfo; revived: boolean }
  | { kind: 'destroyed'; node: string; reason: string }
  | { kind: 'stats'; node: string; stats: NodeStats };

const RAW_ENGINE = Symbol('the engine behind the pool\'s proxy');

export const NO_CAPACITY: NodeStats = { cpu: 0, memory: 0, paging: 0, containers: 0 };

/** An engine that has not answered for this long counts as gone (a host whose link is cut). */
export const GONE_AFTER_MS = 15_000;
/** Describing an engine being added gives up after this long. */
const ENGINE_TIMEOUT_MS = 15_000;
/**
 * A probe or stats sample gives up after this long (the node is not gone for that alone), so that
 * after a flap a fresh connection is tried soon rather than one stuck in TCP's retransmission backoff.
 */
const SAMPLE_TIMEOUT_MS = 5_000;
/** While deciding whether a node is gone, probe it this often. */
const PROBE_RETRY_MS = 500;
/** After a container starts or dies on a node, sample that node again this soon. */
const ACTIVITY_RESAMPLE_MS = 300;

/** Stable across restarts, so labels and resumed sessions keep naming the same node. */
export function nodeIdFor(address: string): string {
  return 'node-' + createHash('sha256').update(address).digest('hex').slice(0, 10);
}

interface Entry extends PoolNode {
  /** Removed on purpose: not probed for a return. */
  retired: boolean;
  unwatch?: () => void;
  busy: boolean;
  resample?: NodeJS.Timeout;
  /** When the engine last answered (Date.now()). */
  lastAnswer: number;
  /** The probe deciding whether the node is gone, while one runs (checkAlive). */
  probing?: Promise<boolean>;
}

/** The location's nodes, one per engine, with their sampled stats. */
export class NodePool {
  private readonly nodes = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly onChange: (change: NodeChange) => void,
    private readonly statsIntervalMs = 5000,
    private readonly goneAfterMs = GONE_AFTER_MS,
  ) {}

  /**
   * Make an engine a live node (again). Rejects, leaving the pool as it was, when the engine does
   * not answer. Adding an engine that is already live is a no-op.
   */
  async add(given: Engine, name?: string): Promise<NodeInfo> {
    const id = nodeIdFor(given.address);
    const engine = this.noteAnswers(id, given);
    const existing = this.nodes.get(id);
    if (existing?.info.alive) return existing.info;
    const description = await withTimeout(engine.describe(), `describing ${engine.address}`);
    const stats = await withTimeout(engine.sampleStats(), `sampling ${engine.address}`);
    const again = this.nodes.get(id);
    if (again?.info.alive) return again.info; // added concurrently
    const info: NodeInfo = { id, name: name ?? existing?.info.name ?? this.uniqueName(description.name, engine.address), stats, alive: true };
    if (description.labels && Object.keys(description.labels).length) info.labels = description.labels;
    // Containers the location reaches on its own network stack, without the engine's relay.
    if (isLocalEngine(given.address) && !given.dial) info.onLocationStack = true;
    let entry: Entry;
    if (existing) {
      // Same object, so containers that hold it see the node come back.
      existing.engine = engine;
      existing.info = info;
      existing.retired = false;
      existing.lastAnswer = Date.now();
      entry = existing;
    } else {
      entry = { info, engine, retired: false, busy: false, lastAnswer: Date.now(), checkAlive: () => this.checkAlive(id) };
      this.nodes.set(id, entry);
    }
    this.watch(entry);
    this.onChange({ kind: 'created', node: info, revived: existing !== undefined });
    return info;
  }

  /** Retire a node on purpose: reported gone, and not probed for a return. */
  remove(id: string, reason = 'it was removed from the location'): void {
    const entry = this.nodes.get(id);
    if (!entry) throw new NodeNotFound(`no node '${id}' at this location`);
    entry.retired = true;
    this.markGone(id, reason);
  }

  /** Mark a node gone: it stays listed with no spare capacity, as the guide says. */
  markGone(id: string, reason = 'its engine stopped answering'): void {
    const entry = this.nodes.get(id);
    if (!entry || !entry.info.alive) return;
    entry.unwatch?.();
    entry.unwatch = undefined;
    clearTimeout(entry.resample);
    entry.info = { ...entry.info, alive: false, stats: NO_CAPACITY };
    this.onChange({ kind: 'destroyed', node: id, reason });
  }

  /**
   * Probe the engine until it answers (true) or the node is gone (false): at once when the engine
   * refuses, else once it has not answered for `goneAfterMs`. Callers at the same time share one probe.
   */
  checkAlive(id: string): Promise<boolean> {
    const entry = this.nodes.get(id);
    if (!entry?.info.alive) return Promise.resolve(false);
    entry.probing ??= this.probeUntilDecided(entry).finally(() => (entry.probing = undefined));
    return entry.probing;
  }

  private async probeUntilDecided(entry: Entry): Promise<boolean> {
    for (;;) {
      if (!entry.info.alive) return false;
      try {
        await withTimeout(entry.engine.describe(), `probing ${entry.engine.address}`, this.probeTimeout());
        return entry.info.alive;
      } catch (err) {
        if (this.goneAfterFailure(entry, err)) return false;
        await new Promise((resolve) => setTimeout(resolve, PROBE_RETRY_MS).unref());
      }
    }
  }

  /** After a failed engine call: mark the node gone if it is (see the file comment); true if so. */
  private goneAfterFailure(entry: Entry, err: unknown): boolean {
    if (!entry.info.alive) return true;
    const silentMs = Date.now() - entry.lastAnswer;
    if (isEngineDown(err)) {
      this.markGone(entry.info.id, `its engine went away (${(err as Error).message})`);
    } else if (silentMs >= this.goneAfterMs || this.stopped) {
      this.markGone(entry.info.id, `its engine has not answered for ${Math.round(silentMs / 1000)} s (${(err as Error).message})`);
    } else {
      return false;
    }
    return true;
  }

  /** A probe never waits past the moment the node would count as gone. */
  private probeTimeout(): number {
    return Math.max(PROBE_RETRY_MS, Math.min(SAMPLE_TIMEOUT_MS, this.goneAfterMs));
  }

  /**
   * The engine as the pool hands it out: every call it answers, whoever made it (a spawn, a
   * process, a stats sample), counts as a sign of life in `lastAnswer`.
   */
  private noteAnswers(id: string, given: Engine): Engine {
    const engine = (given as Engine & { [RAW_ENGINE]?: Engine })[RAW_ENGINE] ?? given;
    // A call that resolves proves the engine answered after the call began, not that it still
    // answers: a stats sample whose per-container calls time out still resolves, seconds after a cut.
    const answered = (since: number) => {
      const entry = this.nodes.get(id);
      if (entry) entry.lastAnswer = Math.max(entry.lastAnswer, since);
    };
    return new Proxy(engine, {
      get(target, prop, receiver) {
        if (prop === RAW_ENGINE) return target;
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || prop === 'watch') return value;
        return (...args: unknown[]) => {
          const since = Date.now();
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) result.then(() => answered(since), () => undefined);
          return result;
        };
      },
    });
  }

  /** The live node with this id; NodeNotFound or NodeGone otherwise. */
  get(id: string): PoolNode {
    const node = this.nodes.get(id);
    if (!node) throw new NodeNotFound(`no node '${id}' at this location; pick one from loc.rankedNodes()`);
    if (!node.info.alive) throw new NodeGone(`node '${id}' has gone away; pick another with loc.node()`);
    return node;
  }

  /** The node with this id, live or not. */
  find(id: string): PoolNode | undefined {
    return this.nodes.get(id);
  }

  /** The node for an engine address, live or not. */
  byAddress(address: string): PoolNode | undefined {
    return this.nodes.get(nodeIdFor(address));
  }

  /** The first live node, for callers that did not choose one. */
  any(): PoolNode {
    const live = [...this.nodes.values()].find((n) => n.info.alive);
    if (!live) throw new NoNodes('this location has no live nodes');
    return live;
  }

  /** Every node, gone ones too. */
  list(): NodeInfo[] {
    return [...this.nodes.values()].map((n) => n.info);
  }

  /** The engines of the live nodes. */
  engines(): Engine[] {
    return [...this.nodes.values()].map((n) => n.engine);
  }

  /** The engines of the live nodes only. */
  liveEngines(): Engine[] {
    return [...this.nodes.values()].filter((n) => n.info.alive).map((n) => n.engine);
  }

  /** Start sampling every node's stats. */
  startSampling(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.sampleAll(), this.statsIntervalMs);
    this.timer.unref();
  }

  /** Stop sampling and watching. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const entry of this.nodes.values()) {
      entry.unwatch?.();
      entry.unwatch = undefined;
      clearTimeout(entry.resample);
    }
  }

  private watch(entry: Entry): void {
    entry.unwatch?.();
    entry.unwatch = entry.engine.watch?.(
      (reason) => void this.confirmGone(entry, reason),
      () => this.scheduleResample(entry),
    );
  }

  /** The event stream broke: probe once before declaring the node gone (a blip is not a departure). */
  private async confirmGone(entry: Entry, reason: Error): Promise<void> {
    entry.unwatch = undefined;
    if (this.stopped || !entry.info.alive) return;
    if (await this.checkAlive(entry.info.id)) {
      this.watch(entry); // the engine still answers: watch it again
    } else {
      this.markGone(entry.info.id, `its engine went away (${reason.message})`);
    }
  }

  private scheduleResample(entry: Entry): void {
    if (this.stopped || entry.resample) return;
    entry.resample = setTimeout(() => {
      entry.resample = undefined;
      void this.sampleOne(entry);
    }, ACTIVITY_RESAMPLE_MS);
    entry.resample.unref();
  }

  private async sampleAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((entry) => (entry.info.alive ? this.sampleOne(entry) : this.probeReturn(entry))));
  }

  /**
   * A sample still waiting: a slow sample is not silence (a busy engine with many containers takes
   * seconds to give every container's stats, CI saw 18 s), so ask the engine something cheap.
   */
  private overdue(entry: Entry): void {
    if (entry.info.alive && Date.now() - entry.lastAnswer >= this.goneAfterMs) void this.checkAlive(entry.info.id);
  }

  private async sampleOne(entry: Entry): Promise<void> {
    if (entry.busy) return this.overdue(entry);
    if (!entry.info.alive) return;
    entry.busy = true;
    try {
      const stats = await withTimeout(entry.engine.sampleStats(), `sampling ${entry.engine.address}`, this.probeTimeout());
      if (!entry.info.alive || sameStats(stats, entry.info.stats)) return;
      entry.info = { ...entry.info, stats };
      this.onChange({ kind: 'stats', node: entry.info.id, stats });
    } catch (err) {
      // An engine that refuses is gone; one that is only slow to give stats is probed (checkAlive).
      if (isEngineDown(err)) this.goneAfterFailure(entry, err);
      else void this.checkAlive(entry.info.id);
    } finally {
      entry.busy = false;
    }
  }

  /** A node that went away by itself comes back when its engine answers again. */
  private async probeReturn(entry: Entry): Promise<void> {
    if (entry.busy || entry.retired || this.stopped) return;
    entry.busy = true;
    try {
      await this.add(entry.engine, entry.info.name);
    } catch {
      // still away
    } finally {
      entry.busy = false;
    }
  }

  private uniqueName(name: string, address: string): string {
    const taken = new Set([...this.nodes.values()].map((n) => n.info.name));
    if (!taken.has(name)) return name;
    // Several engines on one host: tell them apart by socket file or host:port.
    const url = new URL(address);
    const where = url.protocol === 'unix:' ? url.pathname.replace(/^.*\//, '').replace(/\.sock$/, '') : url.host;
    return taken.has(`${name}/${where}`) ? `${name}/${address}` : `${name}/${where}`;
  }
}

function sameStats(a: NodeStats, b: NodeStats): boolean {
  return a.cpu === b.cpu && a.memory === b.memory && a.paging === b.paging && a.containers === b.containers;
}

function withTimeout<T>(p: Promise<T>, doing: string, ms = ENGINE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NodeGone(`no answer in ${ms / 1000} s while ${doing}`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
