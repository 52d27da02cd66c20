import { expect } from 'chai';
import { initialState, reduce, tableGet, tableSize, tableValues, type LocationState } from '../../lib/index';
import { MAX_DESTROYED_KEPT } from '../../lib/client/reducer';
import type { EventOf, NodeInfo } from '../../lib/protocol';

const node = (id: string, cpu = 100): NodeInfo => ({ id, name: id, alive: true, stats: { cpu, memory: 1000, paging: 0, containers: 0 } });
let seq = 0;
const ev = <E extends EventOf>(event: E['event'], params: E['params'], bulk?: Uint8Array) => ({ event, seq: ++seq, params, bulk }) as E;

function offered(): LocationState {
  return reduce(initialState, ev('resource_offer', {
    session: 's1', user: 'u', location: 'here', nodes: [node('a'), node('b')], containers: [], volumes: [{ id: 'v1', tag: 'db', node: 'a' }],
    externals: [], endpoints: [{ domain: 'example.test', httpPort: 80, httpsPort: 443 }],
  }));
}

function withContainer(state: LocationState, id = 'c1', nodeId = 'a'): LocationState {
  return reduce(state, { type: 'container_spawning', container: { id, node: nodeId, image: 'busybox', status: 'spawning' } });
}

describe('reducer', () => {
  it('folds the resource offer into state', () => {
    const s = offered();
    expect(s.session).to.equal('s1');
    expect(Object.keys(s.nodes)).to.deep.equal(['a', 'b']);
    expect(s.volumes.v1.tag).to.equal('db');
    expect(s.endpoints['example.test']).to.deep.equal({ domain: 'example.test', httpPort: 80, httpsPort: 443 });
    expect(Object.keys(s), 'no sequence numbers in the state').to.not.include('lastSeq');
  });

  it('never mutates: the previous state is unchanged and frozen', () => {
    const before = offered();
    const after = reduce(before, ev('node_stats', { node: 'a', stats: { cpu: 5, memory: 5, paging: 5, containers: 1 } }));
    expect(before.nodes.a.stats.cpu).to.equal(100);
    expect(after.nodes.a.stats.cpu).to.equal(5);
    // The nodes are an id record (a Proxy), which refuses writes as a frozen record does.
    expect(() => ((after.nodes as Record<string, NodeInfo>).a = node('x'))).to.throw(TypeError);
    expect(() => delete (after.nodes as Record<string, NodeInfo>).a).to.throw(TypeError);
    expect(() => Object.freeze(after.nodes)).to.throw(TypeError);
    expect(Object.isFrozen(after.nodes.a) && Object.isFrozen(after.nodes.a.stats)).to.equal(true);
    expect(after.nodes.a.stats.cpu).to.equal(5);
  });

  it('folds stats and status into a frozen state with the same fields, before and after the offer', () => {
    const before = withContainer(offered());
    const stats = reduce(before, ev('node_stats', { node: 'a', stats: { cpu: 5, memory: 5, paging: 0, containers: 1 } }));
    const status = reduce(stats, ev('container_status', { container: 'c1', status: 'running' }));
    for (const s of [stats, status]) {
      expect(Object.isFrozen(s)).to.equal(true);
      expect(Object.keys(s)).to.deep.equal(Object.keys(before));
    }
    expect(status.nodes).to.equal(stats.nodes);
    expect(status.containers.get('c1')?.status).to.equal('running');
    // No offer yet: the fields it sets stay absent.
    const early = reduce(withContainer(initialState), ev('container_status', { container: 'c1', status: 'running' }));
    expect(Object.isFrozen(early) && !('session' in early)).to.equal(true);
  });

  it('keeps the nodes in arrival order, readable as a plain record', () => {
    let s = reduce(offered(), ev('node_created', { node: node('c', 300) }));
    s = reduce(s, ev('node_stats', { node: 'a', stats: { cpu: 7, memory: 5, paging: 0, containers: 1 } }));
    expect(Object.keys(s.nodes)).to.deep.equal(['a', 'b', 'c']);
    expect(Object.values(s.nodes).map((n) => n.stats.cpu)).to.deep.equal([7, 100, 300]);
    expect('c' in s.nodes && !('z' in s.nodes)).to.equal(true);
    expect(JSON.parse(JSON.stringify(s.nodes)).a.stats.cpu).to.equal(7);
    expect({ ...s.nodes }.b).to.equal(s.nodes.b);
  });

  it('keeps untouched slices identical, so slice observables stay quiet', () => {
    const before = offered();
    const after = reduce(before, ev('node_stats', { node: 'a', stats: { cpu: 5, memory: 5, paging: 0, containers: 1 } }));
    expect(after.volumes).to.equal(before.volumes);
    expect(after.nodes.b).to.equal(before.nodes.b);
    expect(after.nodes).to.not.equal(before.nodes);
  });

  it('returns the same state for byte-carrying events', () => {
    const s = offered();
    expect(reduce(s, ev('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('x')))).to.equal(s);
    expect(reduce(s, ev('tunnel_data', { conn: 1 }, Buffer.from('x')))).to.equal(s);
  });

  it('adds arriving nodes', () => {
    const s = reduce(offered(), ev('node_created', { node: node('c', 300) }));
    expect(s.nodes.c.stats.cpu).to.equal(300);
  });

  it('follows a container from spawning to running to exited to destroyed', () => {
    let s = withContainer(offered());
    expect(s.containers.get('c1')!.status).to.equal('spawning');
    s = reduce(s, ev('container_status', { container: 'c1', status: 'running', privateIp: '10.0.0.2' }));
    expect(s.containers.get('c1')!).to.include({ status: 'running', privateIp: '10.0.0.2' });
    s = reduce(s, ev('container_status', { container: 'c1', status: 'exited', exitCode: 3 }));
    expect(s.containers.get('c1')!).to.include({ status: 'exited', exitCode: 3 });
    s = reduce(s, ev('container_status', { container: 'c1', status: 'destroyed' }));
    expect(s.containers.get('c1')!).to.include({ status: 'destroyed', exitCode: 3 });
    const again = reduce(s, ev('container_status', { container: 'c1', status: 'running' }));
    expect(again.containers.get('c1')!.status, 'destroyed is final').to.equal('destroyed');
  });

  it('marks a node that went away as having no capacity and its containers destroyed', () => {
    let s = withContainer(withContainer(offered(), 'c1', 'a'), 'c2', 'b');
    s = reduce(s, ev('container_status', { container: 'c1', status: 'running' }));
    s = reduce(s, ev('node_destroyed', { node: 'a', reason: 'its engine has not answered for 15 s' }));
    expect(s.nodes.a.alive).to.equal(false);
    expect(s.nodes.a.stats).to.deep.equal({ cpu: 0, memory: 0, paging: 0, containers: 0 });
    expect(s.containers.get('c1')!.status).to.equal('destroyed');
    expect(s.containers.get('c1')!.error).to.deep.equal({ code: 'NODE_GONE', message: `node ${s.nodes.a.name} went away: its engine has not answered for 15 s` });
    expect(s.containers.get('c2')!.status).to.equal('spawning');
    const later = reduce(s, ev('node_stats', { node: 'a', stats: { cpu: 999, memory: 999, paging: 0, containers: 0 } }));
    expect(later.nodes.a.stats.cpu, 'a dead node stays without capacity').to.equal(0);
  });

  it('records a failed spawn with its error and drops the container\'s tunnels', () => {
    let s = withContainer(offered());
    s = reduce(s, { type: 'tunnel_added', tunnel: { id: 't1', container: 'c1', port: 80 } });
    s = reduce(s, { type: 'container_failed', container: 'c1', error: { code: 'IMAGE_NOT_FOUND', message: 'nope' } });
    expect(s.containers.get('c1')!).to.deep.include({ status: 'destroyed', error: { code: 'IMAGE_NOT_FOUND', message: 'nope' } });
    expect(s.tunnels).to.deep.equal({});
  });

  it('keeps containers in a ReadonlyMap whose entries keep their identity when others change', () => {
    let s = offered();
    for (let i = 0; i < 500; i++) s = withContainer(s, `c${i}`);
    const next = reduce(s, ev('container_status', { container: 'c7', status: 'running' }));
    expect(next.containers.size).to.equal(500);
    expect([...next.containers.keys()]).to.have.members(Array.from({ length: 500 }, (_, i) => `c${i}`));
    const changed = [...next.containers.values()].filter((c) => s.containers.get(c.id) !== c);
    expect(changed.map((c) => c.id)).to.deep.equal(['c7']);
    expect(next.containers.get('c7')!.status).to.equal('running');
    expect(s.containers.get('c7')!.status, 'the previous state is unchanged').to.equal('spawning');
    expect(Object.isFrozen(next.containers.get('c7'))).to.equal(true);
    // The old helpers still read it, for one release.
    expect(tableSize(next.containers)).to.equal(500);
    expect(tableValues(next.containers)).to.have.length(500);
    expect(tableGet(next.containers, 'c7')!.status).to.equal('running');
  });

  it('forgets the oldest destroyed containers beyond the cap', () => {
    let s = offered();
    for (let i = 0; i <= MAX_DESTROYED_KEPT; i++) {
      s = withContainer(s, `c${i}`);
      s = reduce(s, ev('container_status', { container: `c${i}`, status: 'destroyed' }));
    }
    expect(s.containers.get('c0')).to.equal(undefined);
    expect(s.containers.get(`c${MAX_DESTROYED_KEPT}`)!.status).to.equal('destroyed');
    expect(s.containers.size).to.equal(MAX_DESTROYED_KEPT);
  });

  it('follows processes and SSH servers, and drops them with their container', () => {
    let s = withContainer(offered());
    s = reduce(s, { type: 'process_spawning', process: { id: 'p1', container: 'c1', command: 'sleep 9', tty: false } });
    s = reduce(s, { type: 'process_spawning', process: { id: 'p2', container: 'c1', tty: true } });
    s = reduce(s, { type: 'ssh_server_added', server: { id: 's1', container: 'c1', bind: '127.0.0.1', port: 2222 } });
    expect(Object.keys(s.processes)).to.deep.equal(['p1', 'p2']);
    s = reduce(s, ev('process_exit', { process: 'p1', exitCode: 0 }));
    expect(Object.keys(s.processes)).to.deep.equal(['p2']);
    const same = reduce(s, ev('process_exit', { process: 'p1', exitCode: 0 }));
    expect(same, 'an exit of a process it does not hold changes nothing').to.equal(s);
    s = reduce(s, ev('container_status', { container: 'c1', status: 'destroyed' }));
    expect(s.processes).to.deep.equal({});
    expect(s.sshServers).to.deep.equal({});
  });
});
