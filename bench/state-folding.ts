/**
 * Figure 5 — state folding, pure (no socket, no engine). `reduce` from lib/index.ts folds
 * synthetic events shaped like the location's (EventOf from lib/protocol/catalogue.ts) into a state
 * built by folding one resource_offer with 1 000 nodes and 10 000 containers. The floor applies the
 * same updates to plain mutable Maps, so the ratio is the price of the immutable state.
 * Then the cost per container_status event as the state grows (100 … 100 000 containers): a fold
 * that copies the whole containers record per event grows linearly here instead of staying flat.
 */
import { reduce, initialState, type LocationState, type ContainerInfo, type NodeInfo, type NodeStats } from '../lib/index';
import type { EventOf } from '../lib/protocol';
import { figure, now, progress, summarise, type Figure, type Summary } from './stats';

const NODES = 1000;
const CONTAINERS = 10_000;
const SIZES = [100, 1000, 10_000, 100_000];
/** Issue #17's goals for one container event, in µs, by state size: absolute, so judged on the tfnz median. */
const GOAL_US: Record<number, number> = { 100: 10, 100_000: 20 };
/** Each batch folds at most this many events and stops after BATCH_MS, whichever comes first. */
const BATCH_EVENTS = 200_000;
const BATCH_MS = 250;
const BATCHES = 5;

const nodeId = (i: number) => `node-${i.toString().padStart(6, '0')}`;
const ctrId = (i: number) => `ctr-${i.toString().padStart(8, '0')}`;
const stats = (i: number): NodeStats => ({ cpu: 200 - (i % 200), memory: 20_000 + (i % 997), paging: i % 3, containers: i % 50 });

function offer(nodes: number, containers: number): EventOf<'resource_offer'> {
  const nodeList: NodeInfo[] = Array.from({ length: nodes }, (_, i) => ({ id: nodeId(i), name: `host-${i}`, stats: stats(i), alive: true }));
  const ctrList: ContainerInfo[] = Array.from({ length: containers }, (_, i) => ({
    id: ctrId(i), node: nodeId(i % nodes), image: 'busybox', status: 'running', sleeping: false, privateIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
  }));
  return {
    event: 'resource_offer', seq: 1,
    params: { session: 'bench-session', user: 'bench', location: 'bench', nodes: nodeList, containers: ctrList, volumes: [], externals: [], endpoints: [] },
  };
}

/** A stream of real changes: each event gives a container a new address, or a node new stats. */
function containerEvent(seq: number, containers: number): EventOf<'container_status'> {
  const i = (seq * 7919) % containers;
  return { event: 'container_status', seq, params: { container: ctrId(i), status: 'running', privateIp: `10.1.${(seq >> 8) & 255}.${seq & 255}` } };
}
function statsEvent(seq: number, nodes: number): EventOf<'node_stats'> {
  return { event: 'node_stats', seq, params: { node: nodeId((seq * 31) % nodes), stats: stats(seq) } };
}

/** The floor: the same state in mutable Maps, updated in place with the reducer's logic. */
class MutableState {
  lastSeq = 0;
  nodes = new Map<string, NodeInfo>();
  containers = new Map<string, ContainerInfo>();
  constructor(o: EventOf<'resource_offer'>) {
    for (const n of o.params.nodes) this.nodes.set(n.id, { ...n });
    for (const c of o.params.containers) this.containers.set(c.id, { ...c });
  }
  apply(e: EventOf<'container_status' | 'node_stats'>): void {
    this.lastSeq = Math.max(this.lastSeq, e.seq);
    if (e.event === 'node_stats') {
      const n = this.nodes.get(e.params.node);
      if (n && n.alive) n.stats = e.params.stats;
      return;
    }
    const p = e.params;
    const c = this.containers.get(p.container);
    if (!c || c.status === 'destroyed') return;
    if (p.privateIp !== undefined) c.privateIp = p.privateIp;
    if (p.sleeping !== undefined) c.sleeping = p.sleeping;
    if (p.exitCode !== undefined) c.exitCode = p.exitCode;
    if (p.error !== undefined) c.error = p.error;
    c.status = p.status;
  }
}

/** Fold events in bounded batches; returns events per second for each batch. */
function measure(fold: (seq: number) => void, startSeq: number): number[] {
  const rates: number[] = [];
  let seq = startSeq;
  for (let b = 0; b < BATCHES; b++) {
    const t0 = now();
    let n = 0;
    // Fold in chunks that double while a chunk takes under 1 ms: the clock is read rarely for
    // fast folds, and after every event for slow ones, so a batch overruns BATCH_MS by ≤ 1 event.
    let chunk = 1;
    while (n < BATCH_EVENTS && now() - t0 < BATCH_MS) {
      const c0 = now();
      for (let j = 0; j < chunk && n < BATCH_EVENTS; j++, n++) fold(seq++);
      if (now() - c0 < 1) chunk *= 2;
    }
    rates.push(n / ((now() - t0) / 1000));
  }
  return rates;
}

export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const build = (nodes: number, containers: number) => {
    const o = offer(nodes, containers);
    return { state: reduce(initialState, o), floor: new MutableState(o) };
  };

  // Events per second at 1 000 nodes and 10 000 containers.
  {
    let { state, floor } = build(NODES, CONTAINERS);
    const check = state.containers.size;
    if (check !== CONTAINERS || Object.keys(state.nodes).length !== NODES) throw new Error(`state has ${check} containers`);
    for (const kind of ['container_status', 'node_stats'] as const) {
      const make = kind === 'container_status' ? (s: number) => containerEvent(s, CONTAINERS) : (s: number) => statsEvent(s, NODES);
      // Warm up both paths (JIT) before measuring.
      measureOnce(() => (state = foldOne(state, make)), 2000);
      measureOnce(() => floor.apply(make(++floor.lastSeq)), 2000);
      const tfnz = measure((seq) => (state = reduce(state, make((lastSeq = seq)))), lastSeq + 1);
      const base = measure((seq) => floor.apply(make(seq)), floor.lastSeq + 1);
      figures.push(figure({
        bench: 'state', name: `${kind} folded, ${NODES} nodes / ${CONTAINERS} containers`, unit: 'events/s', better: 'higher',
        tfnz: summarise(tfnz), floorName: 'mutable Map update', floor: summarise(base),
        note: kind === 'container_status' ? 'ratio = what immutability costs; medians over batches of ≤250 ms' : undefined,
      }));
    }
  }

  // Cost per container_status event as the state grows.
  const perSize: { size: number; tfnz: Summary; floor: Summary }[] = [];
  for (const size of SIZES) {
    let { state, floor } = build(Math.min(NODES, size), size);
    const make = (s: number) => containerEvent(s, size);
    measureOnce(() => (state = foldOne(state, make)), 200);
    measureOnce(() => floor.apply(make(++floor.lastSeq)), 2000);
    const tfnz = measure((seq) => (state = reduce(state, make((lastSeq = seq)))), lastSeq + 1).map((r) => 1e6 / r);
    const base = measure((seq) => floor.apply(make(seq)), floor.lastSeq + 1).map((r) => 1e6 / r);
    perSize.push({ size, tfnz: summarise(tfnz), floor: summarise(base) });
    progress(`state-folding: ${size} containers: ${summarise(tfnz).median.toFixed(2)} µs/event (Map ${summarise(base).median.toFixed(3)})`);
    figures.push(figure({
      bench: 'state', name: `µs per container_status, ${size} containers`, unit: 'µs/event', better: 'lower',
      tfnz: summarise(tfnz), floorName: 'mutable Map update', floor: summarise(base),
      goal: GOAL_US[size] === undefined ? undefined : ['≤', GOAL_US[size], 'value'],
    }));
  }
  const first = perSize[0];
  const last = perSize[perSize.length - 1];
  figures.push(figure({
    bench: 'state', name: `cost growth ${first.size} → ${last.size} containers`, unit: '×', better: 'lower',
    tfnz: summarise([last.tfnz.median / first.tfnz.median]), floorName: 'mutable Map update',
    floor: summarise([last.floor.median / first.floor.median]),
    note: `flat would be ≈1×; the tfnz column is reduce's µs/event at ${last.size} over that at ${first.size}`,
  }));
  return figures;
}

/** The sequence number of the last event folded (the state keeps none). */
let lastSeq = 1;

function foldOne(state: LocationState, make: (seq: number) => EventOf<'container_status' | 'node_stats'>): LocationState {
  return reduce(state, make(++lastSeq));
}

/** Run `fn` `count` times or for 500 ms, whichever is first (warm-up). */
function measureOnce(fn: () => void, count: number): void {
  const t0 = now();
  for (let i = 0; i < count && now() - t0 < 500; i++) fn();
}
