import { expect } from 'chai';
import { AckBatcher, CreditWindow } from '../../lib/protocol';

const tick = () => new Promise((r) => setImmediate(r));

describe('credit window (flow control of tunnels, transfers and uploads)', () => {
  it('lets a sender spend its window, then wait until the receiver grants more', async () => {
    const window = new CreditWindow(100);
    expect(window.allows(100)).to.equal(true);
    window.spend(60);
    expect(window.allows(60), 'a piece that does not fit waits').to.equal(false);
    expect(window.allows(), 'some credit is left').to.equal(true);
    let resumed = false;
    const waiting = window.until(() => window.allows(60)).then(() => (resumed = true));
    await tick();
    expect(resumed).to.equal(false);
    window.grant(10);
    await tick();
    expect(resumed, 'not enough yet').to.equal(false);
    window.grant(10);
    await waiting;
    expect(window.available).to.equal(60);
  });

  it('caps grants at its maximum, and starts empty when the receiver must grant first', () => {
    const window = new CreditWindow(0, 50);
    expect(window.allows()).to.equal(false);
    window.grant(80);
    expect(window.available).to.equal(50);
    window.spend(70); // the last piece may overdraw it
    expect(window.allows()).to.equal(false);
  });

  it('wakes a waiter when something else it waits on changes', async () => {
    const window = new CreditWindow(0);
    let cancelled = false;
    const waiting = window.until(() => window.allows() || cancelled);
    cancelled = true;
    window.wake();
    await waiting;
  });

  it('acknowledges in batches, the rest at the next turn when asked, and nothing once stopped', async () => {
    const sent: number[] = [];
    const acks = new AckBatcher((bytes) => sent.push(bytes), 100, true);
    acks.took(40);
    acks.took(70);
    expect(sent, 'a batch is full').to.deep.equal([110]);
    acks.took(5);
    expect(sent).to.deep.equal([110]);
    await tick();
    expect(sent, 'the rest goes at the next turn').to.deep.equal([110, 5]);
    acks.took(30);
    acks.stop();
    await tick();
    expect(sent).to.deep.equal([110, 5]);
  });

  it('acknowledges every piece at once with a batch of 0, and keeps a partial batch without flushSoon', async () => {
    const each: number[] = [];
    const immediate = new AckBatcher((bytes) => each.push(bytes), 0);
    immediate.took(3);
    immediate.took(4);
    expect(each).to.deep.equal([3, 4]);
    const batched: number[] = [];
    const held = new AckBatcher((bytes) => batched.push(bytes), 10);
    held.took(4);
    await tick();
    expect(batched).to.deep.equal([]);
    held.flush();
    expect(batched).to.deep.equal([4]);
  });
});
