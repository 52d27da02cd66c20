import { expect } from 'chai';
import { gatherChunks } from '../../lib/shared/gather-chunks';

async function* pieces(...sizes: number[]): AsyncIterable<Uint8Array> {
  let next = 0;
  for (const size of sizes) yield Uint8Array.from({ length: size }, () => next++ % 251);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of source) out.push(c);
  return out;
}

/** Regrouping a stream's pieces into transfer frames of a fixed size. */
describe('gatherChunks', () => {
  it('regroups small and large pieces into frames of the size, the rest last, bytes in order', async () => {
    const frames = await collect(gatherChunks(pieces(3, 4, 10, 1, 0, 2), 8));
    expect(frames.map((f) => f.length)).to.deep.equal([8, 8, 4]);
    const all = Buffer.concat(frames);
    expect([...all]).to.deep.equal(Array.from({ length: 20 }, (_, i) => i % 251));
  });

  it('passes a piece that is a whole frame on without copying it, and yields nothing for nothing', async () => {
    const whole = new Uint8Array(8);
    const [frame] = await collect(gatherChunks((async function* () { yield whole; })(), 8));
    expect(frame.buffer).to.equal(whole.buffer);
    expect(await collect(gatherChunks(pieces(), 8))).to.deep.equal([]);
  });
});
