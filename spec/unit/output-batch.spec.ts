import { expect } from 'chai';
import { OUTPUT_BATCH_BYTES, OUTPUT_BATCH_MS, OutputBatch } from '../../lib/server/output-batch';

/** What a session sends of a container's or process's output: one event per producer per OUTPUT_BATCH_MS. */
describe('OutputBatch (output arriving within OUTPUT_BATCH_MS goes as one event)', () => {
  const sent: { event: string; params: unknown; text: string; at: number }[] = [];
  let waiting: (() => void) | undefined;
  const batch = new OutputBatch((event, params, bulk) => {
    sent.push({ event, params, text: Buffer.from(bulk).toString(), at: performance.now() });
    waiting?.();
  });
  /** Until `n` events were sent in all. */
  const sentCount = (n: number) => new Promise<void>((resolve) => {
    waiting = () => sent.length >= n && resolve();
    waiting();
  });
  beforeEach(() => (sent.length = 0));

  it('joins the lines one producer wrote within OUTPUT_BATCH_MS, in order, and sends them then', async () => {
    const t0 = performance.now();
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('GET / 200\n'));
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('GET /a 404\n'));
    expect(sent).to.deep.equal([]);
    await sentCount(1);
    expect(sent.map(({ event, params, text }) => ({ event, params, text }))).to.deep.equal([
      { event: 'container_output', params: { container: 'c1', stream: 'stdout' }, text: 'GET / 200\nGET /a 404\n' },
    ]);
    expect(sent[0].at - t0).to.be.at.least(OUTPUT_BATCH_MS - 1);
  });

  it('keeps producers and streams apart, in the order they wrote', async () => {
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('a'));
    batch.add('container_output', { container: 'c1', stream: 'stderr' }, Buffer.from('b'));
    batch.add('container_output', { container: 'c2', stream: 'stderr' }, Buffer.from('c'));
    batch.add('process_output', { process: 'c2', stream: 'stderr' }, Buffer.from('d'));
    batch.add('process_output', { process: 'c2', stream: 'stderr' }, Buffer.from('e'));
    await sentCount(4);
    expect(sent.map((s) => [s.event, s.params, s.text])).to.deep.equal([
      ['container_output', { container: 'c1', stream: 'stdout' }, 'a'],
      ['container_output', { container: 'c1', stream: 'stderr' }, 'b'],
      ['container_output', { container: 'c2', stream: 'stderr' }, 'c'],
      ['process_output', { process: 'c2', stream: 'stderr' }, 'de'],
    ]);
  });

  it('sends at once when asked (another frame follows) or when the batch is full, and then nothing twice', () => {
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('last words'));
    batch.flush();
    expect(sent.map((s) => s.text)).to.deep.equal(['last words']);
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.alloc(OUTPUT_BATCH_BYTES - 1, 'x'));
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('y'));
    expect(sent.map((s) => s.text.length)).to.deep.equal([10, OUTPUT_BATCH_BYTES]);
    batch.flush();
    expect(sent).to.have.length(2);
  });
});
