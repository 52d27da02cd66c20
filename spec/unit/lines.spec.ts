import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { lines } from '../../lib/index';

const chunks = (...parts: (string | Buffer)[]) => parts.map((p) => ({ stream: 'stdout' as const, data: Buffer.from(p) }));

describe('lines()', () => {
  it('joins lines split across chunks and drops line ends', async () => {
    const out = await lastValueFrom(from(chunks('one\ntw', 'o\r\nthr', 'ee\n')).pipe(lines(), toArray()));
    expect(out).to.deep.equal(['one', 'two', 'three']);
  });

  it('emits a last line without a newline when the stream completes', async () => {
    expect(await lastValueFrom(from(chunks('a\nb')).pipe(lines(), toArray()))).to.deep.equal(['a', 'b']);
  });

  it('decodes UTF-8 characters split between chunks', async () => {
    const euro = Buffer.from('€\n');
    const out = await lastValueFrom(from([euro.subarray(0, 1), euro.subarray(1)]).pipe(lines(), toArray()));
    expect(out).to.deep.equal(['€']);
  });
});
