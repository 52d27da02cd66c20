import { expect } from 'chai';
import { LogHistory } from '../../lib/server/log-history';
import type { LogLine } from '../../lib/protocol';

const out = (s: string) => Buffer.from(s);
const texts = (lines: LogLine[]) => lines.map((l) => l.text);

describe('LogHistory', () => {
  it('joins lines split across chunks, per stream, and drops \\r\\n', () => {
    const h = new LogHistory();
    h.append('stdout', out('one\r\ntw'), 1);
    h.append('stderr', out('err'), 2);
    h.append('stdout', out('o\n'), 3);
    h.append('stderr', out('or\n'), 4);
    expect(h.query()).to.deep.equal([
      { time: 1, stream: 'stdout', text: 'one' },
      { time: 1, stream: 'stdout', text: 'two' },
      { time: 2, stream: 'stderr', text: 'error' },
    ]);
  });

  it('keeps a last line without a line end once the process ended', () => {
    const h = new LogHistory();
    h.append('stdout', out('a\nb'));
    expect(texts(h.query())).to.deep.equal(['a']);
    h.flush();
    expect(texts(h.query())).to.deep.equal(['a', 'b']);
  });

  it('evicts the oldest lines past either bound and counts them', () => {
    const h = new LogHistory({ maxLines: 3, maxBytes: 1000 });
    for (let i = 1; i <= 10; i++) h.append('stdout', out(`${i}\n`));
    expect(texts(h.query())).to.deep.equal(['8', '9', '10']);
    expect(h.dropped).to.equal(7);
    const b = new LogHistory({ maxLines: 1000, maxBytes: 10 });
    b.append('stdout', out('aaaa\nbbbb\ncccc\n'));
    expect(texts(b.query())).to.deep.equal(['bbbb', 'cccc']);
  });

  it('selects by tail and since', () => {
    const h = new LogHistory();
    for (let i = 1; i <= 5; i++) h.append('stdout', out(`${i}\n`), i * 10);
    expect(texts(h.query({ tail: 2 }))).to.deep.equal(['4', '5']);
    expect(texts(h.query({ since: 25 }))).to.deep.equal(['3', '4', '5']);
    expect(texts(h.query({ since: 25, tail: 1 }))).to.deep.equal(['5']);
    expect(h.query({ tail: 0 })).to.deep.equal([]);
  });

  it('follows after the replay with nothing doubled, and ends when the process ends', () => {
    const h = new LogHistory();
    h.append('stdout', out('old\n'));
    const seen: string[] = [];
    let ended = 0;
    const { replay } = h.follow({}, { line: (l) => seen.push(l.text), end: () => ended++ }, false);
    h.append('stdout', out('new\nlast'));
    h.flush();
    expect(texts(replay)).to.deep.equal(['old']);
    expect(seen).to.deep.equal(['new', 'last']);
    expect(ended).to.equal(1);
  });

  it('cuts a line that never ends at 16 KiB', () => {
    const h = new LogHistory();
    h.append('stdout', Buffer.alloc(40 * 1024, 'x'));
    expect(h.query().map((l) => l.text.length)).to.deep.equal([16 * 1024, 16 * 1024]);
  });

  it('keeps the same lines however the output is cut into chunks', () => {
    // Lines whole in a chunk are decoded in place, split ones are gathered: both must agree.
    const text = ['short', '', 'with\r', 'é ü ñ multi-byte', 'x'.repeat(20_000), 'y'.repeat(16 * 1024), 'last'].join('\n') + '\n';
    const all = Buffer.from(text);
    const whole = new LogHistory();
    whole.append('stdout', all, 1);
    for (const size of [1, 2, 7, 4096, 16 * 1024, 16 * 1024 + 1]) {
      const cut = new LogHistory();
      for (let i = 0; i < all.length; i += size) cut.append('stdout', all.subarray(i, i + size), 1);
      expect(texts(cut.query()), `chunks of ${size}`).to.deep.equal(texts(whole.query()));
    }
    expect(texts(whole.query()).map((t) => t.length)).to.deep.equal([5, 4, 16, 16 * 1024, 20_000 - 16 * 1024, 16 * 1024, 4]);
  });

  it('bounds the bytes as written, multi-byte characters included', () => {
    const h = new LogHistory({ maxLines: 1000, maxBytes: 8 });
    h.append('stdout', Buffer.from('éé\nüü\nab\n')); // 4 + 4 + 2 bytes of text
    expect(texts(h.query())).to.deep.equal(['üü', 'ab']);
  });

  it('keeps the newest lines intact while older ones make room, over many reused blocks', () => {
    const lineOf = (i: number) => `${i}:${'abcdefghij'.repeat((i * 7919) % 300)}`;
    for (const limits of [{ maxLines: 50, maxBytes: 40_000 }, { maxLines: 3, maxBytes: 100_000 }, { maxLines: 1000, maxBytes: 2500 }]) {
      const h = new LogHistory(limits);
      for (let i = 0; i < 600; i++) {
        h.append(i % 3 ? 'stdout' : 'stderr', Buffer.from(`${lineOf(i)}\n`));
        const kept = h.query();
        expect(kept.map((l) => l.text), `after line ${i} with ${JSON.stringify(limits)}`)
          .to.deep.equal(Array.from({ length: kept.length }, (_, k) => lineOf(i + 1 - kept.length + k)));
        expect(kept.map((l) => l.stream)).to.deep.equal(kept.map((l) => (Number(l.text.split(':')[0]) % 3 ? 'stdout' : 'stderr')));
      }
      expect(h.dropped).to.equal(600 - h.query().length);
    }
  });
});
