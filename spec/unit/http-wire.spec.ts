import { expect } from 'chai';
import { BadResponse, MAX_HEAD_BYTES, ResponseFramer, scanRequestHead, type HeadScan } from '../../lib/server/http-wire';

/**
 * The front door's fast path reads request heads and frames answers itself: what it passes on,
 * what it hands to node:http, what it refuses (the patterns request smuggling is made of).
 */
const scan = (head: string): HeadScan => scanRequestHead(Buffer.from(head, 'latin1'));
const kind = (head: string): string => scan(head).kind;

/** Feeds `parts` to a framer; what it forwards, joined, and whether the answer was whole. */
function frame(parts: string[], headRequest = false): { out: string; framer: ResponseFramer } {
  const framer = new ResponseFramer(headRequest);
  let out = '';
  for (const part of parts) for (const b of framer.push(Buffer.from(part, 'latin1'))) out += b.toString('latin1');
  return { out, framer };
}

describe('http-wire: request heads for the front door\'s fast path', () => {
  it('reads a plain GET: hop-by-hop and X-Forwarded-* out, Host and X-Forwarded-For apart, the rest as sent', () => {
    const head = 'GET /a?b=1 HTTP/1.1\r\nHost: www.localhost\r\nAccept: */*\r\nKeep-Alive: 5\r\nConnection: keep-alive\r\n' +
      'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nUser-Agent: spec\r\n\r\nNEXT';
    const r = scan(head);
    expect(r.kind).to.equal('request');
    if (r.kind !== 'request') return;
    expect(r).to.include({ method: 'GET', requestLine: 'GET /a?b=1 HTTP/1.1', host: 'www.localhost', forwardedFor: '10.0.0.1', bodyLength: 0, close: false });
    expect(r.headers).to.equal('Accept: */*\r\nUser-Agent: spec\r\n');
    expect(r.headLength).to.equal(head.length - 'NEXT'.length);
  });

  it('reads a body length and Connection: close, and waits for a head not yet whole', () => {
    const r = scan('POST /x HTTP/1.1\r\nhost: a.localhost\r\ncontent-length: 12\r\nconnection: close\r\n\r\n');
    expect(r).to.include({ kind: 'request', bodyLength: 12, close: true });
    if (r.kind === 'request') expect(r.headers).to.equal('content-length: 12\r\n');
    expect(kind('GET / HTTP/1.1\r\nHost: a')).to.equal('incomplete');
    expect(kind('GET / HTTP/1.1\r\nHost: a\r')).to.equal('incomplete');
  });

  it('hands to node:http what it does not serve itself', () => {
    for (const head of [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\n\r\n',
      'GET / HTTP/1.0\r\nHost: a\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
      'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n',
      '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    ]) expect(kind(head), JSON.stringify(head)).to.equal('unusual');
  });

  it('refuses what a parser behind it could read another way, saying what to send instead', () => {
    const cases: [string, RegExp][] = [
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both Content-Length and Transfer-Encoding/],
      ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', /both Content-Length and Transfer-Encoding/],
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n', /two Content-Length/],
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n', /not a length/],
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', /not a length/],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n', /obs-fold/],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n', /bare CR or LF/],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n', /bare CR or LF/],
      ['GET / HTTP/1.1\nHost: a\n\n', /bare CR or LF/],
      ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', /name has a space/],
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', /two Host headers/],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n', /control character/],
      ['GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n', /malformed header line/],
    ];
    for (const [head, reason] of cases) {
      const r = scan(head);
      expect(r.kind, JSON.stringify(head)).to.equal('bad');
      if (r.kind === 'bad') expect(r.reason).to.match(reason);
    }
    const huge = scan(`GET / HTTP/1.1\r\nHost: a\r\nX-A: ${'a'.repeat(MAX_HEAD_BYTES)}`);
    expect(huge).to.include({ kind: 'bad', status: 431 });
  });
});

describe('http-wire: where a container\'s answer ends', () => {
  it('passes a Content-Length answer on in one piece and sees where it ends', () => {
    const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello';
    const framer = new ResponseFramer(false);
    const data = Buffer.from(answer);
    const out = framer.push(data);
    expect(out).to.have.length(1);
    expect(out[0]).to.equal(data); // the same buffer: one write, no copy
    expect(framer).to.include({ done: true, keepAlive: true, clientClose: false, status: 200, extra: false });
  });

  it('follows chunks, extensions and trailers across any split', () => {
    const answer = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n';
    for (let cut = 1; cut < answer.length; cut++) {
      const { out, framer } = frame([answer.slice(0, cut), answer.slice(cut)]);
      expect(out, `cut at ${cut}`).to.equal(answer);
      expect(framer.done, `cut at ${cut}`).to.equal(true);
    }
    const partial = frame([answer.slice(0, -2)]);
    expect(partial.framer.done).to.equal(false);
  });

  it('knows answers without a body, interim answers, and bodies that end with the connection', () => {
    expect(frame(['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n'], true).framer.done, 'HEAD').to.equal(true);
    expect(frame(['HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n']).framer.done, '304').to.equal(true);
    const early = frame(['HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n']);
    expect(early.framer).to.include({ done: true, status: 204 });
    const untilClose = frame(['HTTP/1.0 200 OK\r\n\r\nsome', ' more']);
    expect(untilClose.out).to.equal('HTTP/1.0 200 OK\r\n\r\nsome more');
    expect(untilClose.framer).to.include({ done: false, keepAlive: false, clientClose: true });
    expect(untilClose.framer.end()).to.equal(true);
    expect(frame(['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc']).framer.end(), 'cut short').to.equal(false);
  });

  it('keeps the client\'s connection when only the container closes its own, and notices bytes past the end', () => {
    const { out, framer } = frame(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-A: 1\r\n\r\nok']);
    expect(out).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok');
    expect(framer).to.include({ done: true, keepAlive: false, clientClose: false });
    const twice = frame(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n']);
    expect(twice.out).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(twice.framer.extra).to.equal(true);
  });

  it('drops control bytes from a reason phrase, as node:http\'s path does', () => {
    const { out, framer } = frame(['HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok']);
    expect(out).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(framer.done).to.equal(true);
  });

  it('refuses answers that are not HTTP or could be read two ways', () => {
    for (const answer of [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: \x00\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
    ]) expect(() => frame([answer]), JSON.stringify(answer)).to.throw(BadResponse);
  });
});
