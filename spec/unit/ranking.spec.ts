import { expect } from 'chai';
import { rankNodes, nodeScore } from '../../lib/index';
import type { NodeInfo } from '../../lib/protocol';

const node = (id: string, cpu: number, memory: number, paging: number, alive = true): NodeInfo => ({
  id, name: id, alive, stats: { cpu, memory, paging, containers: 0 },
});

describe('ranking', () => {
  it('scores free cpu + memory - 10 x paging', () => {
    expect(nodeScore(node('a', 150, 2000, 7))).to.equal(150 + 2000 - 70);
  });

  it('orders nodes best first and leaves out nodes that went away', () => {
    const ranked = rankNodes([node('busy', 10, 500, 0), node('idle', 200, 4000, 0), node('gone', 999, 9999, 0, false), node('swapping', 200, 4000, 50)]);
    expect(ranked.map((n) => n.id)).to.deep.equal(['idle', 'swapping', 'busy']);
  });

  it('breaks ties by id so the choice is stable', () => {
    expect(rankNodes([node('b', 1, 1, 0), node('a', 1, 1, 0)]).map((n) => n.id)).to.deep.equal(['a', 'b']);
  });
});
