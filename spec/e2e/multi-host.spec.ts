import { expect } from 'chai';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import { Cluster, DockerEngine, Location, LocationServer, lines, type Container, type Node } from '../../lib/index';
import { exchange, sha256 } from '../support/net';
import { hostRange, multiHostDown, multiHostUp } from '../support/multi-host';

const run = promisify(execFile);

/** GET through the front door on the loopback, asking for host name `host`. */
function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

async function output(ctr: Container): Promise<string> {
  const text = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
  await ctr.ready();
  return (await text).join('\n');
}

/**
 * Several hosts for real (issue #15): three network-namespace hosts from scripts/multi-host.sh, each
 * a Docker Engine reached over TCP with TLS client certificates; the location runs here, in the root
 * namespace, and reaches containers on the hosts through the routes the script set.
 */
describe('multi-host: a location over three TLS engines on separate network hosts', function () {
  this.timeout(180_000);
  let addresses: string[] = [];
  let server: LocationServer;
  let loc: Location;
  const image = `tfnz-spec-multihost-${nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  /** The session's handle on host N's node (1-3). */
  const host = (n: number): Node => {
    const id = server.nodes.byAddress(addresses[n - 1])!.info.id;
    const node = loc.rankedNodes().find((candidate) => candidate.id === id);
    if (!node) throw new Error(`host h${n}'s node is not live`);
    return node;
  };

  before(async function () {
    this.timeout(300_000);
    addresses = await multiHostUp();
    server = await LocationServer.start({
      name: `spec-hosts-${nanoid(6)}`, port: 0, statsIntervalMs: 500,
      engines: addresses.map((a) => new DockerEngine(a)),
    });
    loc = await Location.connect({ location: server.url, quiet: true });
  });

  after(async function () {
    this.timeout(300_000);
    await loc?.disconnect();
    await server?.close();
    await multiHostDown();
    await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
  });

  it('offers one live node per host, named after the host, reached over TLS', () => {
    for (const a of addresses) expect(a).to.match(/^https:\/\/10\.252\.0\.1[1-3]:2376\?certs=/);
    const nodes = Object.values(loc.state.nodes);
    expect(nodes.map((n) => n.name).sort()).to.deep.equal(['tfnz-h1', 'tfnz-h2', 'tfnz-h3']);
    for (const n of nodes) {
      expect(n.alive).to.equal(true);
      expect(n.stats.memory).to.be.greaterThan(0);
    }
  });

  it('spawns on every host: an address in that host\'s range, stdout, stdin and processes', async () => {
    for (const n of [1, 2, 3]) {
      const ctr = host(n).spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      expect(ctr.privateIp, `h${n}`).to.match(hostRange(n));
      const proc = await ctr.runProcess('cat /proc/1/cmdline');
      expect(proc.stdout.toString()).to.contain('sleep');
      await host(n).destroyContainer(ctr);

      const talker = host(n).spawnContainer('busybox', { stdin: true, command: ['sh', '-c', 'read line; echo "h'+n+' got $line"'] });
      const said = output(talker);
      await talker.ready();
      talker.stdin('forty-two\n');
      expect(await said).to.equal(`h${n} got forty-two`);
    }
  });

  it('puts and fetches files in a container on another host, byte-exact', async () => {
    const box = host(3).spawnContainer('busybox', { command: ['sleep', '600'] });
    await box.ready();
    const data = randomBytes(8 * 1024 * 1024);
    await box.put('/data/blob.bin', data);
    expect(sha256(await box.fetch('/data/blob.bin'))).to.equal(sha256(data));
    expect((await box.runProcess('sha256sum /data/blob.bin')).stdout.toString()).to.contain(sha256(data));
    await host(3).destroyContainer(box);
  });

  it('tunnels to a container on another host, 20 MB intact both ways', async () => {
    const echo = host(2).spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
    await echo.waitTcp(9000);
    const tunnel = await echo.attachTunnel(9000);
    const data = randomBytes(20 * 1024 * 1024);
    const back = await exchange(tunnel.localPort, data);
    expect(back.length).to.equal(data.length);
    expect(sha256(back)).to.equal(sha256(data));
    await host(2).destroyContainer(echo);
  });

  it('balances the front door over a cluster with one member on each host', async () => {
    const servers = [1, 2, 3].map((n) =>
      host(n).spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `served by h${n}\n`]] }),
    );
    await Promise.all(servers.map((s) => s.waitHttp200()));
    const fqdn = `hosts-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;
    const endpoint = loc.endpointFor(fqdn);
    const cluster = new Cluster({ containers: servers });
    await endpoint.publish(cluster, fqdn);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const answer = await get(endpoint.httpPort, fqdn);
      expect(answer.status).to.equal(200);
      counts[answer.body.trim()] = (counts[answer.body.trim()] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).to.deep.equal(['served by h1', 'served by h2', 'served by h3']);
    for (const count of Object.values(counts)) expect(count, JSON.stringify(counts)).to.be.at.least(5);
    await endpoint.unpublish(cluster);
    await Promise.all(servers.map((s) => s.node.destroyContainer(s)));
  });

  it('uploads an image only the client has to a node on another host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-image-'));
    const marker = `marker ${nanoid()}`;
    try {
      writeFileSync(join(dir, 'marker.txt'), marker);
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY marker.txt /\n');
      await run('docker', ['build', '-q', '-t', image, dir], { timeout: 120_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await output(host(3).spawnContainer(image, { command: ['cat', '/marker.txt'] }))).to.equal(marker);
  });
});
