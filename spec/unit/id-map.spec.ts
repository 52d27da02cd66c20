import { expect } from 'chai';
import fc from 'fast-check';
import { IdMap } from '../../lib/client/table';

/** IdMap (the state's containers map) against a plain Map doing the same changes. */
describe('IdMap', () => {
  it('reads like a Map after any sequence of sets and deletes', () => {
    const op = fc.oneof(
      fc.record({ set: fc.integer({ min: 0, max: 400 }), value: fc.integer() }),
      fc.record({ del: fc.integer({ min: 0, max: 400 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        let map = IdMap.of<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if ('set' in o) (map = map.set(`c-${o.set}`, o.value), model.set(`c-${o.set}`, o.value));
          else (map = map.delete(`c-${o.del}`), model.delete(`c-${o.del}`));
        }
        expect(map.size).to.equal(model.size);
        expect(new Map(map)).to.deep.equal(model);
        for (const [id, value] of model) expect(map.get(id)).to.equal(value);
        expect(map.has('c-401')).to.equal(false);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps every earlier version unchanged at 20 000 entries (deep levels)', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `ctr-${i}`);
    const full = IdMap.of(ids.map((id, i) => [id, i] as const));
    const changed = full.set('ctr-7', -1).delete('ctr-8').set('new', 1);
    expect(full.size).to.equal(20_000);
    expect([full.get('ctr-7'), full.get('ctr-8'), full.has('new')]).to.deep.equal([7, 8, false]);
    expect(changed.size).to.equal(20_000);
    expect([changed.get('ctr-7'), changed.has('ctr-8'), changed.get('new')]).to.deep.equal([-1, false, 1]);
    expect([...changed.keys()].sort()).to.deep.equal([...ids.filter((id) => id !== 'ctr-8'), 'new'].sort());
    let emptied = changed;
    for (const id of changed.keys()) emptied = emptied.delete(id);
    expect(emptied.size).to.equal(0);
    expect([...emptied]).to.deep.equal([]);
    expect(changed.size).to.equal(20_000);
  });

  it('cannot be changed in place', () => {
    const map = IdMap.of([['a', 1]]);
    expect(Object.isFrozen(map)).to.equal(true);
    expect(() => ((map as unknown as { size: number }).size = 5)).to.throw(TypeError);
  });
});
