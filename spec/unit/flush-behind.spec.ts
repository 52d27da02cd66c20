import { expect } from 'chai';
import { flushBehind } from '../../lib/shared/flush-behind';

describe('flush-behind (a kept file flushed while it is written)', () => {
  it('flushes once every so many bytes, one flush at a time, never failing the writes', async () => {
    const started: Array<() => void> = [];
    let fail = false;
    const flush = flushBehind(() => new Promise<void>((resolve, reject) => started.push(() => (fail ? reject(new Error('EIO')) : resolve()))), 100);
    flush.wrote(60);
    expect(started, 'under the threshold').to.have.length(0);
    flush.wrote(60);
    expect(started, 'over it').to.have.length(1);
    flush.wrote(500);
    expect(started, 'while one runs, no other starts').to.have.length(1);
    started[0]();
    await flush.settled();
    flush.wrote(100);
    expect(started, 'the next one, once the first is done').to.have.length(2);
    fail = true;
    started[1]();
    await flush.settled(); // a failed flush resolves: the disk's error is the writes' to report
    flush.wrote(99);
    expect(started).to.have.length(2);
  });
});
