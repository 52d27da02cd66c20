import { expect } from 'chai';
import { initialState, reduce, type LocationState } from '../../lib/index';
import type { EventOf, NodeInfo } from '../../lib/protocol';
import { DashboardModel, MAX_GONE_KEPT, MAX_SAMPLES } from '../../lib/cli/dashboard/dashboard-view';

const node = (id: string, cpu = 100): NodeInfo => ({ id, name: `host-${id}`, alive: true, stats: { cpu, memory: 1000, paging: 0, containers: 0 } });
let seq = 0;
const ev = <E extends EventOf>(event: E['event'], params: E['params']) => ({ event, seq: ++seq, params }) as E;
const stats = (state: LocationState, id: string, cpu: number) => reduce(state, ev('node_stats', { node: id, stats: { cpu, memory: 900, paging: 0, containers: 1 } }));
const external = (state: LocationState, id: string, tag: string) => reduce(state, ev('external_created', { external: { id, tag, node: 'a' } }));
const externalGone = (state: LocationState, id: string) => reduce(state, ev('external_destroyed', { external: id }));

function offered(): LocationState {
  return reduce(initialState, ev('resource_offer', {
    session: 's1', user: 'u1', location: 'here', nodes: [node('a'), node('b', 50)], containers: [], volumes: [],
    externals: [], endpoints: [{ domain: 'example.test', httpPort: 80, httpsPort: 443 }],
  }));
}

describe('dashboard view (folded from the SDK state)', () => {
  it('shows nodes, the location, the user and its endpoints', () => {
    const view = new DashboardModel().fold(offered(), 1000);
    expect(view).to.include({ location: 'here', user: 'u1' });
    expect(view.nodes.map((n) => [n.id, n.name, n.alive])).to.deep.equal([['a', 'host-a', true], ['b', 'host-b', true]]);
    expect(view.nodes[1].samples).to.deep.equal([{ time: 1000, cpu: 50, memory: 1000, paging: 0, containers: 0 }]);
    expect(view.endpoints).to.deep.equal([{ domain: 'example.test', httpPort: 80, httpsPort: 443 }]);
  });

  it('adds a sample per node only when its stats changed, and keeps the last MAX_SAMPLES', () => {
    const model = new DashboardModel();
    let state = offered();
    model.fold(state, 0);
    state = stats(state, 'a', 10);
    let view = model.fold(state, 1);
    view = model.fold(state, 2); // the same state again (another slice changed): no new sample
    expect(view.nodes[0].samples.map((s) => [s.time, s.cpu])).to.deep.equal([[0, 100], [1, 10]]);
    expect(view.nodes[1].samples, 'node b did not report').to.have.length(1);
    for (let i = 0; i < MAX_SAMPLES + 5; i++) view = model.fold((state = stats(state, 'a', i)), 10 + i);
    expect(view.nodes[0].samples).to.have.length(MAX_SAMPLES);
    expect(view.nodes[0].samples.at(-1)?.cpu).to.equal(MAX_SAMPLES + 4);
  });

  it("lists this session's containers and the user's tagged ones of other sessions, under their nodes", () => {
    const model = new DashboardModel();
    let state = reduce(offered(), { type: 'container_spawning', container: { id: 'c1', node: 'b', image: 'busybox', status: 'spawning' } });
    state = external(state, 'x1', 'web');
    const view = model.fold(state, 5);
    expect(view.containers).to.deep.equal([
      { id: 'c1', tag: undefined, node: 'b', image: 'busybox', status: 'spawning', session: 'own', seen: 5 },
      { id: 'x1', tag: 'web', node: 'a', status: 'running', session: 'other', seen: 5 },
    ]);
  });

  it('keeps a container that went away as gone (newest first, at most MAX_GONE_KEPT), until it comes back', () => {
    const model = new DashboardModel();
    let state = offered();
    for (let i = 0; i < MAX_GONE_KEPT + 2; i++) {
      model.fold((state = external(state, `x${i}`, `t${i}`)), i);
      model.fold((state = externalGone(state, `x${i}`)), i);
    }
    let view = model.fold(state, 100);
    expect(view.containers).to.have.length(MAX_GONE_KEPT);
    expect(view.containers[0]).to.include({ id: `x${MAX_GONE_KEPT + 1}`, status: 'gone', seen: MAX_GONE_KEPT + 1 });
    view = model.fold((state = external(state, `x${MAX_GONE_KEPT + 1}`, 'again')), 200);
    expect(view.containers.filter((c) => c.id === `x${MAX_GONE_KEPT + 1}`)).to.deep.equal([
      { id: `x${MAX_GONE_KEPT + 1}`, tag: 'again', node: 'a', status: 'running', session: 'other', seen: MAX_GONE_KEPT + 1 },
    ]);
  });
});
