import { expect } from 'chai';
import { FILE_CHUNK_BYTES, FILE_WINDOW_BYTES, type ErrorBody } from '../../lib/protocol';
import { FileReader, FileWriter } from '../../lib/server/file-transfer';
import type { FileSink } from '../../lib/engines/engine';

const tick = () => new Promise((r) => setImmediate(r));

/** A source of `total` bytes in 20 KB pieces, like Docker's archive stream; counts what was pulled. */
function source(total: number) {
  const state = { pulled: 0, cancelled: false };
  async function* chunks() {
    for (let at = 0; at < total; at += 20_000) {
      const n = Math.min(20_000, total - at);
      state.pulled += n;
      yield new Uint8Array(n).fill(at % 251);
    }
  }
  return { state, src: { size: total, chunks: chunks(), cancel: () => void (state.cancelled = true) } };
}

describe('file transfer flow control (location side)', () => {
  it('sends nothing before the first grant, then never more than the window ahead of the acks', async () => {
    const total = 5 * FILE_WINDOW_BYTES + 12345;
    const { state, src } = source(total);
    const sent: number[] = [];
    let ended: ErrorBody | undefined | 'no' = 'no';
    const reader = new FileReader('t', src, { data: (c) => sent.push(c.length), end: (e) => (ended = e) }, () => undefined);
    void reader.run();
    await tick();
    expect(sent).to.deep.equal([]);
    reader.grant(FILE_WINDOW_BYTES);
    const sum = () => sent.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 50; i++) await tick();
    expect(sum()).to.equal(FILE_WINDOW_BYTES); // it ran up to the window and stopped there
    let acked = 0;
    while (ended === 'no') {
      expect(sum() - acked).to.be.at.most(FILE_WINDOW_BYTES);
      // Pulled from the engine: at most one chunk beyond what was sent (no unbounded buffering).
      expect(state.pulled - sum()).to.be.at.most(FILE_CHUNK_BYTES + 20_000);
      // Acknowledge half of what is outstanding, as a slow client would.
      const grant = Math.ceil((sum() - acked) / 2);
      acked += grant;
      reader.grant(grant);
      for (let i = 0; i < 5; i++) await tick();
    }
    expect(ended).to.equal(undefined);
    expect(sum()).to.equal(total);
    expect(Math.max(...sent)).to.equal(FILE_CHUNK_BYTES); // gathered into full chunks
  });

  it('holds while the session is congested', async () => {
    const { src } = source(4 * FILE_CHUNK_BYTES);
    const sent: number[] = [];
    const reader = new FileReader('t', src, { data: (c) => sent.push(c.length), end: () => undefined }, () => undefined);
    reader.pause();
    void reader.run();
    reader.grant(FILE_WINDOW_BYTES);
    await tick();
    expect(sent).to.deep.equal([]);
    reader.resume();
    for (let i = 0; i < 10 && sent.length < 4; i++) await tick();
    expect(sent).to.have.length(4);
  });

  it('writes in order, acknowledges each chunk once written, and ends once the file is in place', async () => {
    const written: number[] = [];
    let finished = false;
    const sink: FileSink = {
      write: async (c) => void written.push(c[0]),
      finish: async () => void (finished = true),
      abort: () => undefined,
    };
    const acks: number[] = [];
    let ended: ErrorBody | undefined | 'no' = 'no';
    const writer = new FileWriter('t', sink, 30, { ack: (b) => acks.push(b), end: (e) => (ended = e) }, () => undefined);
    for (let i = 0; i < 3; i++) writer.data(new Uint8Array(10).fill(i));
    while (ended === 'no') await tick();
    expect(written).to.deep.equal([0, 1, 2]);
    expect(acks).to.deep.equal([10, 10, 10]);
    expect(finished).to.equal(true);
    expect(ended).to.equal(undefined);
  });

  it('fails a put that sends more than it announced', async () => {
    let aborted = false;
    const sink: FileSink = { write: async () => undefined, finish: async () => undefined, abort: () => void (aborted = true) };
    let ended: ErrorBody | undefined;
    const writer = new FileWriter('t', sink, 5, { ack: () => undefined, end: (e) => (ended = e) }, () => undefined);
    writer.data(new Uint8Array(6));
    expect(ended?.code).to.equal('BAD_REQUEST');
    expect(aborted).to.equal(true);
  });
});
