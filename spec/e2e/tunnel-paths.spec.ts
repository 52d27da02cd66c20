import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { filter, firstValueFrom, of, timeout } from 'rxjs';
import { nanoid } from 'nanoid';
import { ConnectFailed, Location, type Container, type TunnelPath } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { closedConnection, echoServer, exchange, readSlowly, sha256, zeroesServer } from '../support/net';

/**
 * A tunnel's bytes take one of four paths: with the embedded location, or one reached by URL on
 * this process's network stack (local-location-tunnels.spec.ts), rewritten by the packet filter
 * straight to the container (a root process, kernel-tunnels.spec.ts has the details) or relayed
 * from the local port to the container (one hop in this process); with any other location (or
 * `directTunnels: false`), through it on a data connection of their own beside the session's
 * WebSocket; with a location that takes no data connections (an older one), relayed over the
 * WebSocket. tunnels.spec.ts covers the embedded path in depth; here the same promises are checked
 * on all of them.
 */
const paths: [string, TunnelPath, () => Promise<{ loc: Location; close(): Promise<void> }>][] = [
  ['forwarded by the kernel (embedded location, root)', 'kernel', async () => {
    const loc = await Location.connect({ quiet: true, kernelTunnels: true });
    return { loc, close: () => loc.disconnect() };
  }],
  ['direct (embedded location, relayed by this process)', 'direct', async () => {
    const loc = await Location.connect({ quiet: true, kernelTunnels: false });
    return { loc, close: () => loc.disconnect() };
  }],
  ['forwarded by the kernel (a location reached by its URL, on this network stack)', 'kernel', async () => {
    const server = await LocationServer.start({ name: `spec-tunnel-paths-${nanoid(6)}`, port: 0 });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true });
    return { loc, close: async () => (await loc.disconnect(), await server.close()) };
  }],
  ['on data connections (location reached by its URL, direct tunnels off)', 'location', async () => {
    const server = await LocationServer.start({ name: `spec-tunnel-paths-${nanoid(6)}`, port: 0 });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true, directTunnels: false });
    return { loc, close: async () => (await loc.disconnect(), await server.close()) };
  }],
  ['relayed over the WebSocket (a location without data connections, direct tunnels off)', 'location', async () => {
    const server = await LocationServer.start({ name: `spec-tunnel-paths-${nanoid(6)}`, port: 0, dataConnections: false });
    const loc = await Location.connect({ location: `127.0.0.1:${server.port}`, quiet: true, directTunnels: false });
    return { loc, close: async () => (await loc.disconnect(), await server.close()) };
  }],
];

for (const [path, expected, open] of paths) {
  describe(`tunnels, ${path} (real Docker Engine)`, function () {
    this.timeout(120_000);
    let session: { loc: Location; close(): Promise<void> };
    let echo: Container;

    before(async () => {
      session = await open();
      echo = session.loc.node().spawnContainer('busybox', { command: echoServer(9000) });
      await echo.waitTcp(9000);
    });
    after(async () => {
      await session?.close();
    });

    it('carries 20 MB byte-exact both ways, on 4 connections at once', async () => {
      const tunnel = await echo.attachTunnel(9000);
      const payloads = Array.from({ length: 4 }, () => randomBytes(5 * 1024 * 1024));
      const results = await Promise.all(payloads.map((p) => exchange(tunnel.localPort, p)));
      results.forEach((r, i) => expect(sha256(r), `connection ${i}`).to.equal(sha256(payloads[i])));
      // The kernel takes over once a connection reached the container (its rules are installed after).
      const now = await firstValueFrom(tunnel.path$.pipe(filter((p) => p === expected), timeout({ first: 20_000, with: () => of(tunnel.path) })));
      expect(now, 'the path the tunnel reports').to.equal(expected);
    });

    it('connects a connection made before the container listens, once it does', async () => {
      const late = session.loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'sleep 1; exec nc -ll -p 9000 -e cat'] });
      const tunnel = await late.attachTunnel(9000, { timeout: 20 });
      const back = await exchange(tunnel.localPort, Buffer.from('worth the wait'));
      expect(back.toString()).to.equal('worth the wait');
      await session.loc.node().destroyContainer(late);
    });

    it('hands a slow reader every byte a container sent before it closed', async () => {
      const source = session.loc.node().spawnContainer('busybox', { command: zeroesServer(9003, 8 * 1024 * 1024) });
      await source.waitTcp(9003);
      const tunnel = await source.attachTunnel(9003);
      const received = await readSlowly(tunnel.localPort, 5);
      expect(received).to.equal(8 * 1024 * 1024);
      await session.loc.node().destroyContainer(source);
    });

    it('reports ConnectFailed naming the port when nothing listens, and closes the local connection', async () => {
      const tunnel = await echo.attachTunnel(9999, { timeout: 1 });
      const error = firstValueFrom(tunnel.errors$);
      const closed = closedConnection(tunnel.localPort);
      expect(await error).to.be.instanceOf(ConnectFailed).with.property('message').that.contains('port 9999');
      await closed;
    });

    it('cuts its open connections when the tunnel is destroyed', async () => {
      const tunnel = await echo.attachTunnel(9000);
      const socket = connect({ host: '127.0.0.1', port: tunnel.localPort });
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      // An echoed byte proves the connection reached the container before the tunnel goes.
      socket.write('x');
      await new Promise((resolve) => socket.once('data', resolve));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => undefined));
      await echo.destroyTunnel(tunnel);
      await closed;
      expect(socket.destroyed).to.equal(true);
    });
  });
}
