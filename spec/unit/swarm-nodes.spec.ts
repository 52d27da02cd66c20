import { expect } from 'chai';
import { swarmEngineAddress, swarmNodeUnusable, type SwarmNode } from '../../lib/server/swarm-nodes';

const MANAGER = 'https://10.0.0.11:2376?certs=/etc/tfnz/swarm';

describe('swarm nodes (which swarm node is a tfnz node, and where its engine is)', () => {
  it('finds the engine from the tfnz.engine label, with the manager\'s TLS files when it names none', () => {
    const node: SwarmNode = { Spec: { Labels: { 'tfnz.engine': 'https://10.0.0.12:2376' } }, Status: { State: 'ready', Addr: '10.0.0.12' } };
    expect(swarmEngineAddress(node, MANAGER)).to.equal('https://10.0.0.12:2376?certs=/etc/tfnz/swarm');
    const own: SwarmNode = { Spec: { Labels: { 'tfnz.engine': 'https://n2.example:2376?certs=/etc/n2' } } };
    expect(swarmEngineAddress(own, MANAGER)).to.equal('https://n2.example:2376?certs=/etc/n2');
  });

  it('falls back to the node\'s swarm address on the engine port, and to the manager address for a manager that says 0.0.0.0', () => {
    expect(swarmEngineAddress({ Status: { Addr: '10.0.0.13' } }, MANAGER, 2380)).to.equal('https://10.0.0.13:2380?certs=/etc/tfnz/swarm');
    const manager: SwarmNode = { Status: { Addr: '0.0.0.0' }, ManagerStatus: { Addr: '10.0.0.11:2377' } };
    expect(swarmEngineAddress(manager, 'https://10.0.0.11:2376')).to.equal('https://10.0.0.11:2376');
  });

  it('takes only ready, active nodes, and says why not otherwise', () => {
    expect(swarmNodeUnusable({ Status: { State: 'ready' }, Spec: { Availability: 'active' } })).to.equal(undefined);
    expect(swarmNodeUnusable({ Status: { State: 'down' }, Spec: { Availability: 'active' } })).to.equal('is down');
    expect(swarmNodeUnusable({ Status: { State: 'ready' }, Spec: { Availability: 'drain' } })).to.equal('was set to drain');
    expect(swarmNodeUnusable({ Status: { State: 'ready' }, Spec: { Availability: 'pause' } })).to.equal('was set to pause');
  });
});
