import { expect } from 'chai';
import { Subject } from 'rxjs';
import { pickDistinct } from '../../lib/client/pick-distinct';

describe('pickDistinct (a state slice read on every emission)', () => {
  it('emits the picked value when it is defined and not the last one, and passes completion on', () => {
    const source = new Subject<{ slice?: object }>();
    const a = {};
    const b = {};
    const seen: object[] = [];
    let completed = false;
    source.pipe(pickDistinct((s) => s.slice)).subscribe({ next: (v) => seen.push(v), complete: () => (completed = true) });
    for (const slice of [undefined, a, a, undefined, a, b, b, a]) source.next({ slice });
    source.complete();
    expect(seen).to.deep.equal([a, b, a]);
    expect(seen[0]).to.equal(a);
    expect(completed).to.equal(true);
  });

  it('keeps one last value per subscriber, and passes errors on', () => {
    const source = new Subject<number>();
    const picked = source.pipe(pickDistinct((n) => (n > 0 ? n : undefined)));
    const first: number[] = [];
    const errors: unknown[] = [];
    picked.subscribe({ next: (n) => first.push(n), error: (e) => errors.push(e) });
    source.next(1);
    const second: number[] = [];
    picked.subscribe({ next: (n) => second.push(n), error: (e) => errors.push(e) });
    source.next(1);
    source.next(0);
    source.next(2);
    source.error(new Error('gone'));
    expect(first).to.deep.equal([1, 2]);
    expect(second).to.deep.equal([1, 2]);
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['gone', 'gone']);
  });
});
