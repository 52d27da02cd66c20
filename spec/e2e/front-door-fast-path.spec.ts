import { expect } from 'chai';
import { connect } from 'node:net';
import { nanoid } from 'nanoid';
import { Cluster, Location, type Container, type Node } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';

/**
 * The front door's fast path (plain HTTP/1.1 read off the socket, answers piped back raw) at its
 * edges, spoken to byte by byte over one TCP connection as a client on the wire would: pipelined
 * requests, a body by Content-Length, a smuggling attempt, a Host that changes between requests,
 * and the requests it hands to node:http's path on the same connection.
 */

interface Answer {
  status: number;
  headers: string;
  body: string;
}

/** Writes `raw` on one connection (then ends its side if `halfClose`) and reads everything until the front door closes it. */
function onOneConnection(port: number, raw: string, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => (halfClose ? socket.end(raw, 'latin1') : socket.write(raw, 'latin1')));
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no end in 10 s; so far: ${JSON.stringify(text.slice(0, 300))}`)));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** The answers in `text`, one after the other, framed by Content-Length or chunks (trailers not expected). */
function answers(text: string): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    expect(end, `an answer head in ${JSON.stringify(text.slice(at, at + 200))}`).to.be.above(-1);
    const head = text.slice(at, end);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
    expect(status, `a status line in ${JSON.stringify(head)}`).to.not.equal(null);
    at = end + 4;
    let body = '';
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length) {
      body = text.slice(at, at + Number(length[1]));
      at += body.length;
    } else {
      // Chunked (node:http's path frames its own answers so): size line, data, CRLF; 0 ends it.
      expect(head, 'framed by Content-Length or chunks').to.match(/\r\ntransfer-encoding: *chunked/i);
      for (;;) {
        const line = text.indexOf('\r\n', at);
        const size = parseInt(text.slice(at, line), 16);
        at = line + 2;
        if (size === 0) break;
        body += text.slice(at, at + size);
        at += size + 2;
      }
      at += 2;
    }
    out.push({ status: Number(status![1]), headers: head, body });
  }
  return out;
}

const get = (host: string, extra = '') => `GET / HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
const lastGet = (host: string) => get(host, 'Connection: close\r\n');

/** An nginx whose page says `page`. */
function nginx(node: Node, page: string): Container {
  return node.spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `${page}\n`]] });
}

describe('front door fast path: pipelining, bodies, smuggling, Host changes (real location, real nginx)', function () {
  this.timeout(180_000);
  let server: LocationServer;
  let loc: Location;
  let port: number;
  const both = `both-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;
  const bee = `bee-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;

  before(async () => {
    server = await LocationServer.start({ name: `spec-fast-${nanoid(6)}`, port: 0 });
    loc = await Location.connect({ location: server.url, quiet: true });
    const node = loc.node();
    const members = [nginx(node, 'one'), nginx(node, 'two')];
    const alone = nginx(node, 'bee');
    await Promise.all([...members, alone].map((c) => c.waitHttp200()));
    const endpoint = loc.endpointFor(both);
    port = endpoint.httpPort;
    await endpoint.publish(new Cluster({ containers: members }), both);
    await endpoint.publish(new Cluster({ containers: [alone] }), bee);
  });
  after(async () => {
    await loc?.disconnect();
    await server?.close();
  });

  it('answers pipelined requests in order, each to the next member', async () => {
    const text = await onOneConnection(port, get(both) + get(both) + get(both) + lastGet(both));
    const got = answers(text);
    expect(got.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
    const pages = got.map((a) => a.body.trim());
    expect(new Set(pages)).to.have.keys('one', 'two');
    for (let i = 1; i < pages.length; i++) expect(pages[i], pages.join(' ')).to.not.equal(pages[i - 1]); // round-robin per request
  });

  it('carries a body by Content-Length and reads the next request right after it', async () => {
    // nginx refuses POST on a static page with 405 after reading the body: had the door
    // passed the body's bytes as a request of their own, the next answer would be a 400.
    const body = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'.padEnd(2000, 'x');
    const post = `POST / HTTP/1.1\r\nHost: ${both}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const got = answers(await onOneConnection(port, post + lastGet(both)));
    expect(got.map((a) => a.status)).to.deep.equal([405, 200]);
    expect(got[1].body.trim()).to.be.oneOf(['one', 'two']);
  });

  it('refuses a smuggling attempt with a 400 that says why, closes that connection, and goes on serving', async () => {
    const attempt = `POST / HTTP/1.1\r\nHost: ${both}\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: ${both}\r\n\r\n`;
    const refused = answers(await onOneConnection(port, attempt));
    expect(refused).to.have.length(1);
    expect(refused[0].status).to.equal(400);
    expect(refused[0].body).to.match(/both Content-Length and Transfer-Encoding; send one/);

    const folded = answers(await onOneConnection(port, `GET / HTTP/1.1\r\nHost: ${both}\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`));
    expect(folded.map((a) => [a.status, a.body.trim()])).to.deep.equal([[400, 'the request folds a header over lines (obs-fold); send each header on one line']]);

    const after = answers(await onOneConnection(port, lastGet(both)));
    expect(after.map((a) => a.status)).to.deep.equal([200]);
  });

  it('frames the answer to HEAD by its head alone, so the next request\'s answer follows at once', async () => {
    const text = await onOneConnection(port, `HEAD / HTTP/1.1\r\nHost: ${bee}\r\n\r\n` + lastGet(bee));
    const [head, rest] = [text.slice(0, text.indexOf('\r\n\r\n') + 4), text.slice(text.indexOf('\r\n\r\n') + 4)];
    expect(head).to.match(/^HTTP\/1\.1 200 [^]*\r\ncontent-length: 4\r\n/i); // the page's length, and no page
    expect(answers(rest).map((a) => [a.status, a.body])).to.deep.equal([[200, 'bee\n']]);
  });

  it('answers a client that ends its side right after its requests, then closes', async () => {
    const got = answers(await onOneConnection(port, get(bee) + get(bee), true));
    expect(got.map((a) => [a.status, a.body.trim()])).to.deep.equal([[200, 'bee'], [200, 'bee']]);
  });

  it('follows the Host header from one request to the next on one connection', async () => {
    const text = await onOneConnection(port, get(both) + get(bee) + get('nowhere.localhost') + lastGet(bee));
    const got = answers(text);
    expect(got.map((a) => a.status)).to.deep.equal([200, 200, 404, 200]);
    expect(got[0].body.trim()).to.be.oneOf(['one', 'two']);
    expect(got[1].body.trim()).to.equal('bee');
    expect(got[2].body).to.match(/no site is published at nowhere\.localhost/); // answered by node:http's path
  });

  it('hands a WebSocket upgrade, first thing on a connection, to node:http\'s path, which joins it to a member', async () => {
    // nginx serves its page to a GET that asks for an upgrade: the joined connection carries that answer back.
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write(`GET / HTTP/1.1\r\nHost: ${bee}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      });
      let got = '';
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no page in 10 s; so far: ${JSON.stringify(got)}`)));
      socket.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('bee\n')) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('error', reject);
    });
    expect(text).to.match(/^HTTP\/1\.1 200 /);
  });

  it('hands requests it does not serve itself to node:http\'s path, mid-connection, bytes intact', async () => {
    // A chunked body, then HTTP/1.0: both go to node:http's path, which frames them its own way.
    const chunked = `POST / HTTP/1.1\r\nHost: ${bee}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
    const text = await onOneConnection(port, get(bee) + chunked + `GET / HTTP/1.0\r\nHost: ${bee}\r\n\r\n`);
    const got = answers(text);
    expect(got.map((a) => a.status)).to.deep.equal([200, 405, 200]);
    expect(got[2].body.trim()).to.equal('bee');
  });
});
