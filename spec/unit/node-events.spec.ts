import { expect } from 'chai';
import { initialState, rankNodes, reduce, type Action, type LocationState } from '../../lib/index';
import type { ContainerInfo, NodeInfo, NodeStats } from '../../lib/protocol';
import { NodePool, nodeIdFor, type NodeChange } from '../../lib/server/node-pool';
import { parseEnginesFile } from '../../lib/server/engines-file';
import { markEngineDown, type Engine } from '../../lib/engines/engine';
import { tableGet } from '../../lib/client/table';

/** A scripted engine for the pool's bookkeeping (end-to-end claims use real dockerds: nodes.spec.ts). */
class FakeEngine {
  /** false: dockerd is down (connections refused). */
  up = true;
  /** false: its host's link is cut (no route to it, nothing refuses). */
  reachable = true;
  /** false: only its stats calls fail (the rest of its API answers). */
  statsAnswer = true;
  /** true: its stats calls never return (a busy engine asked for many containers' stats). */
  statsHang = false;
  cpu = 200;
  onGone?: (reason: Error) => void;
  constructor(readonly address: string) {}
  private answer(): void {
    if (!this.up) throw markEngineDown(new Error('connect ENOENT'));
    if (!this.reachable) throw new Error('connect EHOSTUNREACH');
  }
  async describe() {
    this.answer();
    return { name: 'fake', cores: 2, memoryMiB: 1000 };
  }
  async sampleStats(): Promise<NodeStats> {
    this.answer();
    if (this.statsHang) return new Promise<NodeStats>(() => undefined);
    if (!this.statsAnswer) throw new Error('stats: context deadline exceeded');
    return { cpu: this.cpu, memory: 1000, paging: 0, containers: 0 };
  }
  watch(onGone: (reason: Error) => void) {
    this.onGone = onGone;
    return () => (this.onGone = undefined);
  }
}
const asEngine = (e: FakeEngine) => e as unknown as Engine;

/** The pool's changes as an async queue, so specs await the next one instead of sleeping. */
function changes() {
  const queue: NodeChange[] = [];
  const waiters: ((c: NodeChange) => void)[] = [];
  return {
    push: (c: NodeChange) => (waiters.length ? waiters.shift()!(c) : queue.push(c)),
    next: (kind?: NodeChange['kind']): Promise<NodeChange> =>
      new Promise((resolve) => {
        const take = (c: NodeChange) => (kind && c.kind !== kind ? waiters.unshift(take) : resolve(c));
        if (queue.length) take(queue.shift()!);
        else waiters.push(take);
      }),
  };
}

describe('node pool: arrivals, departures, returns', () => {
  let pool: NodePool;
  afterEach(() => pool?.stop());

  it('announces a node, its stats as they change, and its departure when sampling fails', async () => {
    const seen = changes();
    pool = new NodePool(seen.push, 10);
    const engine = new FakeEngine('tcp://10.9.9.9:2375');
    const info = await pool.add(asEngine(engine));
    expect(info.id).to.equal(nodeIdFor(engine.address));
    expect((await seen.next()).kind).to.equal('created');
    pool.startSampling();
    engine.cpu = 50;
    const stats = (await seen.next('stats')) as Extract<NodeChange, { kind: 'stats' }>;
    expect(stats.stats.cpu).to.equal(50);
    engine.up = false;
    const gone = await seen.next('destroyed');
    expect(gone).to.include({ node: info.id });
    const listed = pool.list()[0];
    expect(listed.alive).to.equal(false);
    expect(listed.stats).to.deep.equal({ cpu: 0, memory: 0, paging: 0, containers: 0 });
    expect(() => pool.get(info.id)).to.throw().with.property('code', 'NODE_GONE');
    expect(() => pool.any()).to.throw().with.property('code', 'NO_NODES');
  });

  it('takes a node back when its engine answers again, with the same id and name', async () => {
    const seen = changes();
    pool = new NodePool(seen.push, 10);
    const engine = new FakeEngine('unix:///run/fake.sock');
    const info = await pool.add(asEngine(engine), 'first');
    await seen.next('created');
    pool.startSampling();
    engine.up = false;
    await seen.next('destroyed');
    engine.up = true;
    const back = (await seen.next('created')) as Extract<NodeChange, { kind: 'created' }>;
    expect(back.revived).to.equal(true);
    expect(back.node).to.include({ id: info.id, name: 'first', alive: true });
  });

  it('declares a node gone when its event stream ends and the engine does not answer, not on a blip', async () => {
    const seen = changes();
    pool = new NodePool(seen.push, 60_000);
    const engine = new FakeEngine('unix:///run/fake2.sock');
    const info = await pool.add(asEngine(engine));
    await seen.next('created');
    engine.onGone!(new Error('stream reset')); // engine still answers: watched again
    expect(await pool.checkAlive(info.id)).to.equal(true);
    expect(engine.onGone, 'watching again').to.not.equal(undefined);
    engine.up = false;
    engine.onGone!(new Error('stream ended'));
    const gone = (await seen.next('destroyed')) as Extract<NodeChange, { kind: 'destroyed' }>;
    expect(gone.node).to.equal(info.id);
  });

  it('rides out a link that flaps for less than goneAfterMs; a longer silence is a departure', async () => {
    const seen = changes();
    const kinds: string[] = [];
    pool = new NodePool((c) => (kinds.push(c.kind), seen.push(c)), 10, 400);
    const engine = new FakeEngine('tcp://10.9.9.8:2375');
    const info = await pool.add(asEngine(engine));
    await seen.next('created');
    pool.startSampling();
    engine.reachable = false; // many sampling rounds fail, for a quarter of goneAfterMs
    await new Promise((resolve) => setTimeout(resolve, 100));
    engine.reachable = true;
    engine.cpu = 70;
    await seen.next('stats');
    expect(kinds, 'no departure for the flap').to.not.include('destroyed');
    expect(await pool.checkAlive(info.id)).to.equal(true);

    const cut = Date.now();
    engine.reachable = false;
    const gone = (await seen.next('destroyed')) as Extract<NodeChange, { kind: 'destroyed' }>;
    // Silence counts from the last answer, which may come up to one sampling round (10 ms) before the cut.
    expect(Date.now() - cut).to.be.within(400 - 20, 2000);
    expect(gone.reason).to.match(/has not answered for \d+ s .*EHOSTUNREACH/);
    expect(await pool.checkAlive(info.id)).to.equal(false);
    engine.reachable = true;
    expect(((await seen.next('created')) as Extract<NodeChange, { kind: 'created' }>).revived).to.equal(true);
  });

  it('counts any call the engine answers as a sign of life, not only stats samples', async () => {
    const seen = changes();
    const kinds: string[] = [];
    pool = new NodePool((c) => (kinds.push(c.kind), seen.push(c)), 10, 300);
    const engine = new FakeEngine('tcp://10.9.9.7:2375');
    const info = await pool.add(asEngine(engine));
    await seen.next('created');
    pool.startSampling();
    engine.statsAnswer = false;
    // A container's calls (here describe) go on answering for twice goneAfterMs.
    const handed = pool.get(info.id).engine;
    for (let i = 0; i < 12; i++) {
      await handed.describe();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(kinds, 'no departure').to.not.include('destroyed');
    const cut = Date.now();
    engine.reachable = false;
    await seen.next('destroyed'); // counted from the last describe, up to 50 ms before the cut
    expect(Date.now() - cut).to.be.within(200, 1500);
  });

  it('takes a stats sample that never returns for a busy engine, not a departure, while the engine answers', async () => {
    // CI saw it: under load, one sample of every container's stats took longer than goneAfterMs,
    // and the node was declared gone with every container on it, though dockerd answered.
    const seen = changes();
    const kinds: string[] = [];
    pool = new NodePool((c) => (kinds.push(c.kind), seen.push(c)), 10, 300);
    const engine = new FakeEngine('tcp://10.9.9.6:2375');
    const info = await pool.add(asEngine(engine));
    await seen.next('created');
    pool.startSampling();
    engine.statsHang = true;
    await new Promise((resolve) => setTimeout(resolve, 1200)); // four times goneAfterMs: an absence is awaited by time
    expect(kinds, 'no departure while only stats hang').to.not.include('destroyed');
    expect(pool.get(info.id).info.alive).to.equal(true);
    const cut = Date.now();
    engine.reachable = false;
    const gone = (await seen.next('destroyed')) as Extract<NodeChange, { kind: 'destroyed' }>;
    expect(gone.reason).to.match(/has not answered for \d+ s .*EHOSTUNREACH/);
    expect(Date.now() - cut).to.be.within(100, 2000);
  });

  it('does not probe a removed node for a return; add brings it back', async () => {
    const seen = changes();
    pool = new NodePool(seen.push, 10);
    const engine = new FakeEngine('unix:///run/fake3.sock');
    const info = await pool.add(asEngine(engine));
    await seen.next('created');
    pool.startSampling();
    pool.remove(info.id);
    expect(((await seen.next()) as Extract<NodeChange, { kind: 'destroyed' }>).reason).to.contain('removed');
    // Many sampling rounds pass; a stats change on another node is the clock.
    const other = new FakeEngine('unix:///run/fake4.sock');
    await pool.add(asEngine(other));
    await seen.next('created');
    other.cpu = 10;
    await seen.next('stats');
    expect(pool.list().find((n) => n.id === info.id)!.alive).to.equal(false);
    await pool.add(asEngine(engine));
    expect(((await seen.next('created')) as Extract<NodeChange, { kind: 'created' }>).node.id).to.equal(info.id);
  });

  it('names engines on one host apart', async () => {
    pool = new NodePool(() => undefined);
    const a = await pool.add(asEngine(new FakeEngine('unix:///var/run/docker.sock')));
    const b = await pool.add(asEngine(new FakeEngine('unix:///run/tfnz/node2.sock')));
    const c = await pool.add(asEngine(new FakeEngine('tcp://10.0.0.7:2375')));
    expect([a.name, b.name, c.name]).to.deep.equal(['fake', 'fake/node2', 'fake/10.0.0.7:2375']);
  });
});

describe('reducer and ranking: node events', () => {
  const stats = (cpu: number): NodeStats => ({ cpu, memory: 1000, paging: 0, containers: 0 });
  const node = (id: string, cpu: number): NodeInfo => ({ id, name: id, alive: true, stats: stats(cpu) });
  let seq = 0;
  const ev = (event: string, params: unknown): Action => ({ event, seq: ++seq, params }) as Action;
  const ctr = (id: string, nodeId: string, status: ContainerInfo['status'] = 'running'): ContainerInfo => ({ id, node: nodeId, image: 'busybox', status });
  const offered = (): LocationState =>
    reduce(initialState, ev('resource_offer', {
      session: 's', user: 'u', location: 'l', nodes: [node('a', 200), node('b', 150)],
      containers: [ctr('c1', 'a'), ctr('c2', 'a', 'exited'), ctr('c3', 'b')], volumes: [], externals: [], endpoints: [],
    }));

  it('adds an arriving node and ranks it by its stats', () => {
    const s = reduce(offered(), ev('node_created', { node: node('c', 300) }));
    expect(rankNodes(Object.values(s.nodes)).map((n) => n.id)).to.deep.equal(['c', 'a', 'b']);
  });

  it('re-ranks as stats change, and ignores stats for a node that is gone', () => {
    let s = reduce(offered(), ev('node_stats', { node: 'a', stats: stats(20) }));
    expect(rankNodes(Object.values(s.nodes)).map((n) => n.id)).to.deep.equal(['b', 'a']);
    s = reduce(s, ev('node_destroyed', { node: 'b' }));
    const before = s.nodes.b;
    s = reduce(s, ev('node_stats', { node: 'b', stats: stats(999) }));
    expect(s.nodes.b).to.equal(before);
    expect(rankNodes(Object.values(s.nodes)).map((n) => n.id)).to.deep.equal(['a']);
  });

  it('keeps a departed node with no capacity and ends its containers with NODE_GONE, others untouched', () => {
    const s = reduce(offered(), ev('node_destroyed', { node: 'a' }));
    expect(s.nodes.a).to.include({ alive: false });
    expect(s.nodes.a.stats).to.deep.equal({ cpu: 0, memory: 0, paging: 0, containers: 0 });
    const c = (id: string) => tableGet(s.containers, id)!;
    expect(c('c1')).to.include({ status: 'destroyed' });
    expect(c('c1').error?.code).to.equal('NODE_GONE');
    expect(c('c2')).to.include({ status: 'destroyed' });
    expect(c('c3')).to.include({ status: 'running' });
  });

  it('brings a node back alive when it is created again', () => {
    let s = reduce(offered(), ev('node_destroyed', { node: 'a' }));
    s = reduce(s, ev('node_created', { node: node('a', 200) }));
    expect(s.nodes.a.alive).to.equal(true);
    expect(rankNodes(Object.values(s.nodes))[0].id).to.equal('a');
  });
});

describe('engines file', () => {
  it('reads one engine a line with an optional name, skipping comments and blanks', () => {
    const text = '# engines\n\nunix:///run/tfnz/node2.sock\ntcp://10.0.0.7:2375   rack 7  # the old one\n  https://h:2376 secure\n';
    expect(parseEnginesFile(text)).to.deep.equal([
      { address: 'unix:///run/tfnz/node2.sock', name: undefined },
      { address: 'tcp://10.0.0.7:2375', name: 'rack 7' },
      { address: 'https://h:2376', name: 'secure' },
    ]);
  });
});
