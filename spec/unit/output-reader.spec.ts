import { expect } from 'chai';
import { OUTPUT_REST_MS, OutputReader, SMALL_READ_BYTES, type PausableSource } from '../../lib/engines/output-reader';

/** A source that records whether it reads, and says when it starts again. */
class Source implements PausableSource {
  reading = true;
  private resumed?: () => void;
  pause(): void {
    this.reading = false;
  }
  resume(): void {
    this.reading = true;
    this.resumed?.();
  }
  nextResume(): Promise<number> {
    const t0 = performance.now();
    return new Promise((resolve) => (this.resumed = () => resolve(performance.now() - t0)));
  }
}

/** A Docker frame: stream type, three zero bytes, big-endian length, payload. */
function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('OutputReader (a small read rests the source, so close lines come in one read)', () => {
  it('delivers a small read at once, then stops reading for OUTPUT_REST_MS', async () => {
    const source = new Source();
    const got: string[] = [];
    const reader = new OutputReader(source, false, (stream, data) => got.push(`${stream}:${data}`));
    const resumed = source.nextResume();
    reader.take(frame(1, 'GET / 200\n'));
    expect(got).to.deep.equal(['stdout:GET / 200\n']);
    expect(source.reading).to.equal(false);
    expect(await resumed).to.be.at.least(OUTPUT_REST_MS - 1);
    expect(source.reading).to.equal(true);
  });

  it('never rests after a large read: bulk output keeps its pace', () => {
    const source = new Source();
    let bytes = 0;
    const reader = new OutputReader(source, true, (_stream, data) => (bytes += data.length));
    reader.take(Buffer.alloc(SMALL_READ_BYTES));
    expect(bytes).to.equal(SMALL_READ_BYTES);
    expect(source.reading).to.equal(true);
  });

  it("keeps the caller's pause: the end of a rest does not read again while held, resume() does", async () => {
    const source = new Source();
    const reader = new OutputReader(source, true, () => undefined);
    reader.take(Buffer.from('a line\n'));
    reader.pause();
    // Nothing marks a resume that does not happen: wait three rests long.
    await new Promise<void>((resolve) => setTimeout(resolve, OUTPUT_REST_MS * 3));
    expect(source.reading).to.equal(false);
    const resumed = source.nextResume();
    reader.resume();
    await resumed;
    expect(source.reading).to.equal(true);
  });

  it('resumes a held source only once its rest is over', async () => {
    const source = new Source();
    const reader = new OutputReader(source, true, () => undefined);
    const resumed = source.nextResume();
    reader.take(Buffer.from('a line\n'));
    reader.pause();
    reader.resume();
    expect(source.reading).to.equal(false);
    expect(await resumed).to.be.at.least(OUTPUT_REST_MS - 1);
  });
});
