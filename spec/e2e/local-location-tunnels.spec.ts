import { expect } from 'chai';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { filter, firstValueFrom } from 'rxjs';
import { nanoid } from 'nanoid';
import { Location, QuotaExceeded, type Container } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { echoServer, exchange, sha256 } from '../support/net';
import { startLocationProcess, stopProcess } from '../support/processes';

const run = promisify(execFile);

/** The nat OUTPUT rules that name `tunnel` (kernel-forward.ts tags each with the tunnel's id). */
const dnatRulesOf = (tunnel: string) =>
  execFileSync('iptables', ['-w', '-t', 'nat', '-S', 'OUTPUT'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`:${tunnel}`));

/**
 * A location run as a daemon on the developer's own machine (`tfnz location` in its own process,
 * reached by URL), in this process's network namespace: it says so in open_session, its local
 * engine's node says its containers are on its stack, so tunnels connect straight to the
 * container and the kernel forwards them (as with the embedded location) while the location
 * keeps each tunnel's record. `directTunnels: false` keeps the way through the location.
 * tunnel-paths.spec.ts runs every path's promises on this one too; multi-host.spec.ts has nodes
 * on other hosts, whose tunnels still go through the location.
 */
describe('tunnels through a location in its own process on this machine (real Docker Engine)', function () {
  this.timeout(120_000);
  let location: { child: ChildProcess; url: string };
  let direct: Location;
  let relayed: Location;
  let echo: Container;
  let relayedEcho: Container;

  before(async () => {
    location = await startLocationProcess(`spec-local-path-${nanoid(6)}`, ['--tunnels-per-user', '2']);
    [direct, relayed] = await Promise.all([
      Location.connect({ location: location.url, quiet: true }),
      Location.connect({ location: location.url, quiet: true, directTunnels: false }),
    ]);
    echo = direct.node().spawnContainer('busybox', { command: echoServer(9000) });
    relayedEcho = relayed.node().spawnContainer('busybox', { command: echoServer(9000) });
    await Promise.all([echo.waitTcp(9000), relayedEcho.waitTcp(9000)]);
  });
  after(async () => {
    await direct?.disconnect();
    await relayed?.disconnect();
    await stopProcess(location?.child);
  });

  it('hands a tunnel to the kernel once a connection reaches the container, and carries 8 MB byte-exact through it', async () => {
    expect(direct.node().info.onLocationStack).to.equal(true);
    const tunnel = await echo.attachTunnel(9000);
    expect(tunnel.path).to.equal('direct');
    const kernel = firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel')));
    expect((await exchange(tunnel.localPort, Buffer.from('first, relayed by this process'))).toString()).to.equal('first, relayed by this process');
    await kernel;
    const dnat = dnatRulesOf(tunnel.id);
    expect(dnat).to.have.length(1);
    expect(dnat[0]).to.contain(`--dport ${tunnel.localPort}`).and.contain(`--to-destination ${echo.privateIp}:9000`);
    const data = randomBytes(8 * 1024 * 1024);
    expect(sha256(await exchange(tunnel.localPort, data))).to.equal(sha256(data));
    await echo.destroyTunnel(tunnel);
    expect(dnatRulesOf(tunnel.id)).to.deep.equal([]);
  });

  it('leaves the tunnel\'s record with the location: its tunnel quota counts direct tunnels, and a destroyed one frees its place', async () => {
    const [one, two] = [await echo.attachTunnel(9000), await echo.attachTunnel(9000)];
    expect([one.path, two.path]).to.deep.equal(['direct', 'direct']);
    const refused = await echo.attachTunnel(9000).then(() => null, (e: Error) => e);
    expect(refused).to.be.instanceOf(QuotaExceeded);
    await echo.destroyTunnel(one);
    const again = await echo.attachTunnel(9000);
    expect((await exchange(again.localPort, Buffer.from('in its place'))).toString()).to.equal('in its place');
    await echo.destroyTunnel(two);
    await echo.destroyTunnel(again);
  });

  it('carries a tunnel through the location, and says so, with directTunnels: false', async () => {
    expect(relayed.node().info.onLocationStack).to.equal(true);
    const tunnel = await relayedEcho.attachTunnel(9000);
    expect(tunnel.path).to.equal('location');
    const data = randomBytes(4 * 1024 * 1024);
    expect(sha256(await exchange(tunnel.localPort, data))).to.equal(sha256(data));
    expect(tunnel.path).to.equal('location');
    expect(dnatRulesOf(tunnel.id)).to.deep.equal([]);
    await relayedEcho.destroyTunnel(tunnel);
  });
});

/**
 * The same location, same machine, but a client in another network namespace (scripts/netns-client.sh,
 * root): the node still says its containers are on the location's stack, yet the stacks differ,
 * so the tunnel goes through the location, which reaches the container (the client could not).
 */
describe('tunnels of a client on another network stack than the location (real Docker Engine, root)', function () {
  this.timeout(120_000);
  let server: LocationServer;
  let ns: string;

  before(async () => {
    ns = (await run('bash', ['scripts/netns-client.sh', 'up'], { timeout: 30_000 })).stdout.trim();
    server = await LocationServer.start({ name: `spec-other-stack-${nanoid(6)}`, host: '10.254.17.1', port: 0 });
  });
  after(async () => {
    await server?.close();
    await run('bash', ['scripts/netns-client.sh', 'down'], { timeout: 30_000 });
  });

  it('takes the location\'s path and carries the bytes', async () => {
    const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'spec/fixtures/tunnel-from-elsewhere.ts'], {
      env: { ...process.env, TFNZ_LOCATION: `ws://10.254.17.1:${server.port}` }, timeout: 90_000,
    });
    expect(JSON.parse(stdout.trim())).to.deep.equal({ onLocationStack: true, path: 'location', back: 'from another network stack' });
  });
});
