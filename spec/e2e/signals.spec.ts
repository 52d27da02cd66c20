import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { nanoid } from 'nanoid';
import { Location, Unauthorized } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { eventually } from '../support/docker';

const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
/** This process's open sockets and timers, as Node counts them. */
const resources = () => {
  const info = process.getActiveResourcesInfo();
  return { sockets: info.filter((r) => r === 'TCPSocketWrap').length, timers: info.filter((r) => r === 'Timeout').length };
};

describe('process signals, and connecting that leaves nothing behind (real location)', function () {
  this.timeout(60_000);
  let server: LocationServer;

  before(async () => {
    server = await LocationServer.start({ name: `spec-signals-${nanoid(6)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  const connect = (opts: Parameters<typeof Location.connect>[0] = {}) => Location.connect({ location: server.url, quiet: true, ...opts });

  it('installs no signal listener unless asked, and one in all for any number of sessions that ask', async () => {
    const before = listeners();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const sessions: Location[] = [];
    try {
      sessions.push(...(await Promise.all(Array.from({ length: 4 }, () => connect()))));
      const afterPlain = listeners();
      sessions.push(...(await Promise.all(Array.from({ length: 12 }, () => connect({ handleSignals: true })))));
      const afterAsking = listeners();
      await Promise.all(sessions.splice(0).map((loc) => loc.disconnect()));
      expect(afterPlain, 'a Location of its own adds none').to.deep.equal(before);
      expect(afterAsking, 'one per signal for all').to.deep.equal(before.map((n) => n + 1));
      expect(listeners(), 'all gone with the sessions').to.deep.equal(before);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.map((w) => w.name)).to.not.include('MaxListenersExceededWarning');
    } finally {
      await Promise.all(sessions.map((loc) => loc.disconnect()));
      process.off('warning', onWarning);
    }
  });

  it('listens while run() runs: Ctrl-C makes run() return and end the session', async () => {
    const before = listeners();
    const loc = await connect();
    const running = loc.run();
    expect(listeners()).to.deep.equal(before.map((n) => n + 1));
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    process.emit('SIGINT', 'SIGINT'); // to the listeners only: the real signal would end mocha if this failed
    await running;
    expect(ctr.status, 'disconnecting destroyed its container').to.equal('destroyed');
    expect(listeners()).to.deep.equal(before);
  });

  it('leaves no listener, socket or timer behind when the location refuses the session', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tfnz-signals-'));
    const keys = join(home, 'authorized_keys');
    writeFileSync(keys, '');
    const savedHome = process.env.TFNZ_HOME;
    process.env.TFNZ_HOME = home; // no account here
    const strict = await LocationServer.start({ name: `spec-signals-${nanoid(6)}`, port: 0, authorizedKeys: keys });
    try {
      const before = { listeners: listeners(), ...resources() };
      const err = await Location.connect({ location: `127.0.0.1:${strict.port}`, quiet: true, handleSignals: true }).catch((e: Error) => e);
      expect(err).to.be.instanceOf(Unauthorized);
      await eventually(async () => expect({ listeners: listeners(), ...resources() }).to.deep.equal(before), 5000);
    } finally {
      await strict.close();
      if (savedHome === undefined) delete process.env.TFNZ_HOME;
      else process.env.TFNZ_HOME = savedHome;
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('aborts during the handshake, and closes the socket it opened', async () => {
    // A server that accepts the WebSocket and then says nothing: connecting waits for its challenge.
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => silent.once('listening', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const controller = new AbortController();
      const accepted = new Promise<import('ws').WebSocket>((resolve) => silent.once('connection', resolve));
      const connecting = Location.connect({ location: `127.0.0.1:${port}`, quiet: true, signal: controller.signal }).catch((e: Error) => e);
      const socket = await accepted;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      controller.abort(new Error('changed my mind'));
      const err = await connecting;
      expect(err).to.be.instanceOf(Error).with.property('message', 'changed my mind');
      await closed;
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
