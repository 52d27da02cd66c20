import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { nanoid } from 'nanoid';
import { Location, type Container, type Tunnel } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { DATA_HEADERS, DATA_UPGRADE } from '../../lib/protocol/data-connection';
import { FaultProxy } from '../support/fault-proxy';
import { linkChanges } from '../support/session-link';
import { bystander, stillServes, type Bystander } from '../support/bystander';
import { exchange, sha256 } from '../support/net';
import { eventually } from '../support/docker';

/**
 * Tunnel data connections (lib/protocol/data-pipe.ts) with a location in its own server, reached
 * through a proxy that can drop connections: a data connection that breaks mid-transfer is dialled
 * again and the bytes arrive exactly once; the upgrade door refuses whatever is not a fresh secret.
 */
describe('tunnel data connections (real location, real Docker Engine)', function () {
  this.timeout(120_000);
  let server: LocationServer;
  let proxy: FaultProxy;
  let loc: Location;
  let echo: Container;
  let tunnel: Tunnel;
  let other: Bystander;

  before(async () => {
    server = await LocationServer.start({ name: `spec-data-conns-${nanoid(6)}`, port: 0, sessionGraceMs: 60_000, limits: { openDeadlineMs: 1000 } });
    proxy = await FaultProxy.start(server.port);
    // directTunnels off: this location is on this process's network stack, and the bytes must cross the proxy.
    loc = await Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true, directTunnels: false });
    other = await bystander(`127.0.0.1:${server.port}`);
    echo = loc.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
    await echo.waitTcp(9000);
    tunnel = await echo.attachTunnel(9000);
  });
  after(async () => {
    await loc?.disconnect();
    await other?.loc.disconnect();
    await proxy?.close();
    await server?.close();
  });

  it('dials a data connection cut mid-transfer again and delivers every byte once, the session untouched', async () => {
    const links: string[] = [];
    const watching = linkChanges(loc).subscribe((l) => links.push(l));
    const data = randomBytes(32 * 1024 * 1024);
    let cuts = 0;
    const echoed = await exchange(tunnel.localPort, data, {
      // Twice, with bytes in flight both ways: every connection but the session's own drops.
      onReceived: (total) => {
        if (total > ((cuts + 1) * data.length) / 3 && cuts < 2) cuts += proxy.dropAfter(1) > 0 ? 1 : 0;
      },
    });
    watching.unsubscribe();
    expect(cuts).to.equal(2);
    expect(echoed.length).to.equal(data.length);
    expect(sha256(echoed)).to.equal(sha256(data));
    expect(links, 'the session\'s own socket never dropped').to.deep.equal([]);
  });

  it('refuses a wrong secret, a used one, garbage and a slow sender, and every session keeps working', async () => {
    // The secret is asked for by hand, in the bystander's session (numbering its connection far ahead of the SDK's).
    const session = other.loc.state.session!;
    const aside = await other.ctr.attachTunnel(9000, { timeout: 1 });
    const request = (other.loc as unknown as { connection: { request(c: string, p: unknown): Promise<{ secret: Uint8Array }> } }).connection;
    const { secret } = await request.request('tunnel_link', { tunnel: aside.id, conn: 1_000_000 });
    const asking = (secretBytes: Uint8Array, conn = 1_000_000) =>
      `GET /tfnz/tunnel HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${DATA_UPGRADE}\r\n${DATA_HEADERS.session}: ${session}\r\n` +
      `${DATA_HEADERS.conn}: ${conn}\r\n${DATA_HEADERS.secret}: ${Buffer.from(secretBytes).toString('base64url')}\r\n${DATA_HEADERS.received}: 0\r\n\r\n`;
    expect(await firstLine(server.port, asking(randomBytes(32)))).to.equal('HTTP/1.1 403 Forbidden');
    expect(await firstLine(server.port, asking(secret), true)).to.equal('HTTP/1.1 101 Switching Protocols');
    expect(await firstLine(server.port, asking(secret))).to.equal('HTTP/1.1 403 Forbidden');
    expect(await firstLine(server.port, asking(secret, 1))).to.equal('HTTP/1.1 403 Forbidden');
    expect(await firstLine(server.port, `GET /tfnz/tunnel HTTP/1.1\r\nUpgrade: ${DATA_UPGRADE}\r\nConnection: Upgrade\r\n${DATA_HEADERS.conn}: -1\r\n\r\n`)).to.equal('HTTP/1.1 403 Forbidden');
    expect(await firstLine(server.port, randomBytes(4096).toString('latin1'))).to.not.match(/^HTTP\/1\.1 101/);
    // A slowloris: headers a byte at a time never finish; the location cuts it after its open deadline.
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      const text = asking(randomBytes(32));
      let at = 0;
      const drip = setInterval(() => socket.write(text[at++ % text.length]), 100);
      socket.on('error', () => undefined);
      socket.on('close', () => (clearInterval(drip), resolve()));
    });
    expect(Date.now() - started, 'the slow sender was cut').to.be.below(10_000);
    const payload = randomBytes(1024 * 1024);
    expect(sha256(await exchange(tunnel.localPort, payload))).to.equal(sha256(payload));
    await stillServes(other);
  });
});

/** Send `text` on a fresh connection to `port`; the first line of the answer ('' when closed without one). */
function firstLine(port: number, text: string, thenClose = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = () => resolve(answer.split('\r\n')[0]);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n') && thenClose) (socket.destroy(), done());
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.on('connect', () => socket.write(text, 'latin1'));
  });
}

describe('tunnel data connections at the location\'s socket limit (real location, real Docker Engine)', function () {
  this.timeout(120_000);

  it('carries the connections over the limit on the WebSocket instead, each intact', async () => {
    const server = await LocationServer.start({ name: `spec-data-limit-${nanoid(6)}`, port: 0, limits: { connectionsPerAddress: 2 } });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true, directTunnels: false });
    try {
      const echo = loc.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
      await echo.waitTcp(9000);
      const tunnel = await echo.attachTunnel(9000);
      // Three connections held open, each proven through by an echo: two take data connections (the limit).
      const sockets = await Promise.all([0, 1, 2].map(async (i) => {
        const socket = connect({ host: '127.0.0.1', port: tunnel.localPort, allowHalfOpen: true });
        socket.write(`hello ${i}`);
        await new Promise((resolve) => socket.once('data', resolve));
        return socket;
      }));
      expect(server.dataConnectionCount).to.equal(2);
      const payloads = sockets.map(() => randomBytes(2 * 1024 * 1024));
      const results = await Promise.all(sockets.map((socket, i) => new Promise<Buffer>((resolve, reject) => {
        const received: Buffer[] = [];
        socket.on('data', (chunk) => received.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(received)));
        socket.end(payloads[i]);
      })));
      results.forEach((r, i) => expect(sha256(r), `connection ${i}`).to.equal(sha256(payloads[i])));
      await eventually(async () => expect(server.dataConnectionCount, 'released when their connections ended').to.equal(0), 5000);
    } finally {
      await loc.disconnect();
      await server.close();
    }
  });
});
