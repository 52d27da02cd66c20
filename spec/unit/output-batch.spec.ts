import { expect } from 'chai';
import { OUTPUT_BATCH_BYTES, OutputBatch } from '../../lib/server/output-batch';

/** What a session sends of a container's or process's output: one event per producer per turn. */
describe('OutputBatch (output arriving within one turn goes as one event)', () => {
  const sent: { event: string; params: unknown; text: string }[] = [];
  const batch = new OutputBatch((event, params, bulk) => sent.push({ event, params, text: Buffer.from(bulk).toString() }));
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  beforeEach(() => (sent.length = 0));

  it('joins the lines one producer wrote within a turn, in order, and sends them at the end of it', async () => {
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('GET / 200\n'));
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('GET /a 404\n'));
    expect(sent).to.deep.equal([]);
    await turn();
    expect(sent).to.deep.equal([{ event: 'container_output', params: { container: 'c1', stream: 'stdout' }, text: 'GET / 200\nGET /a 404\n' }]);
  });

  it('keeps producers and streams apart, in the order they wrote', async () => {
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('a'));
    batch.add('container_output', { container: 'c1', stream: 'stderr' }, Buffer.from('b'));
    batch.add('container_output', { container: 'c2', stream: 'stderr' }, Buffer.from('c'));
    batch.add('process_output', { process: 'c2', stream: 'stderr' }, Buffer.from('d'));
    batch.add('process_output', { process: 'c2', stream: 'stderr' }, Buffer.from('e'));
    await turn();
    expect(sent.map((s) => [s.event, s.params, s.text])).to.deep.equal([
      ['container_output', { container: 'c1', stream: 'stdout' }, 'a'],
      ['container_output', { container: 'c1', stream: 'stderr' }, 'b'],
      ['container_output', { container: 'c2', stream: 'stderr' }, 'c'],
      ['process_output', { process: 'c2', stream: 'stderr' }, 'de'],
    ]);
  });

  it('sends at once when asked (another frame follows) or when the batch is full', async () => {
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('last words'));
    batch.flush();
    expect(sent.map((s) => s.text)).to.deep.equal(['last words']);
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.alloc(OUTPUT_BATCH_BYTES - 1, 'x'));
    batch.add('container_output', { container: 'c1', stream: 'stdout' }, Buffer.from('y'));
    expect(sent.map((s) => s.text.length)).to.deep.equal([10, OUTPUT_BATCH_BYTES]);
    await turn();
    expect(sent).to.have.length(2); // nothing left to send
  });
});
