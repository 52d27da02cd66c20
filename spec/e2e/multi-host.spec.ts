import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, throwError, timeout } from 'rxjs';
import Docker from 'dockerode';
import { nanoid } from 'nanoid';
import { Cluster, Location, NodeGone, type Container, type Node } from '../../lib/index';
import { DockerEngine, LocationServer } from '../../lib/server/index';
import { GONE_AFTER_MS, nodeIdFor } from '../../lib/server/node-pool';
import { eventually } from '../support/docker';
import { exchange, getAs as get, sha256 } from '../support/net';
import { output } from '../support/container-output';
import { cutHost, hostRange, mendHost, multiHostDown, multiHostUp } from '../support/multi-host';
import { exited, runScript } from '../support/processes';
import { createInterface } from 'node:readline';

const run = promisify(execFile);
/** A link outage this long must cost nothing: a third of the time after which a node is gone. */
const FLAP_MS = GONE_AFTER_MS / 3;

/** A busybox httpd answering on port 80. */
const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www'];

/** Measured from inside `from`: can it open an HTTP connection to `ip`? (2 s timeout) */
async function reaches(from: Container, ip: string): Promise<boolean> {
  const { stdout } = await from.runProcess(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80 | grep -q '200 OK' && echo REACHED || echo BLOCKED`);
  expect(stdout.toString()).to.match(/REACHED|BLOCKED/);
  return stdout.toString().includes('REACHED');
}

/** Every ordered pair "x>y" that can connect, all probes at once. */
async function matrix(named: Record<string, Container>): Promise<string[]> {
  const pairs = Object.keys(named).flatMap((x) => Object.keys(named).filter((y) => y !== x).map((y) => [x, y] as const));
  const ok = await Promise.all(pairs.map(([x, y]) => reaches(named[x], named[y].privateIp!)));
  return pairs.filter((_, i) => ok[i]).map(([x, y]) => `${x}>${y}`).sort();
}

/**
 * Several hosts for real (issue #15): three network-namespace hosts from scripts/multi-host.sh, each
 * a Docker Engine reached over TCP with TLS client certificates; the location runs here, in the root
 * namespace, and reaches containers on the hosts through the routes the script set.
 */
describe('multi-host: three node hosts on their own network, engines over TLS', function () {
  this.timeout(180_000);
  let addresses: string[] = [];

  before(async function () {
    this.timeout(300_000);
    addresses = await multiHostUp();
  });

  after(async function () {
    this.timeout(300_000);
    await multiHostDown();
  });

  describe('a location over all three hosts', function () {
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

    it('keeps a volume on the host that holds it: written by one container, read by the next', async () => {
      const volume = await loc.createVolume();
      const holder = addresses.findIndex((a) => server.nodes.byAddress(a)!.info.id === volume.nodeId) + 1;
      expect(holder, 'the volume is on one of the hosts').to.be.within(1, 3);
      const volumesOn = async (n: number) =>
        ((await new Docker({ socketPath: `/run/tfnz-hosts/h${n}.sock` }).listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(volume.id)).length;
      for (const n of [1, 2, 3]) expect(await volumesOn(n), `volumes on h${n}`).to.equal(n === holder ? 1 : 0);
      const node = host(holder);
      const text = `kept on h${holder} ${nanoid(6)}`;
      const writer = node.spawnContainer('busybox', { volumes: [[volume, '/data']], command: ['sh', '-c', `echo "${text}" > /data/note`] });
      expect(await firstValueFrom(writer.termination$)).to.equal(0);
      await node.destroyContainer(writer);
      expect(await output(node.spawnContainer('busybox', { volumes: [[volume, '/data']], command: ['cat', '/data/note'] }))).to.equal(text);
    });

    it('tunnels to a container on another host, 20 MB intact both ways', async () => {
      const echo = host(2).spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
      await echo.waitTcp(9000);
      const tunnel = await echo.attachTunnel(9000);
      const data = randomBytes(20 * 1024 * 1024);
      const back = await exchange(tunnel.localPort, data);
      expect(back.length).to.equal(data.length);
      expect(sha256(back)).to.equal(sha256(data));
      // The host is not the location's network stack (its node says so): its bytes go through the location.
      expect(host(2).info.onLocationStack).to.equal(undefined);
      expect(tunnel.path).to.equal('location');
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

  describe('connection grants across hosts, enforced on the receiving host', function () {
    let server: LocationServer;
    let loc: Location;
    const name = `spec-hosts-fw-${nanoid(6)}`;
    /** This location's packet-filter rules in host N's own namespace. */
    const rulesOn = async (n: number) => {
      const out: string[] = [];
      for (const chain of ['TFNZ-ALLOW', 'TFNZ-DENY']) {
        const { stdout } = await run('ip', ['netns', 'exec', `tfnz-h${n}`, 'iptables', '-w', '-S', chain]).catch(() => ({ stdout: '' }));
        out.push(...stdout.split('\n').filter((l) => l.includes(`tfnz:${name}:`)));
      }
      return out;
    };
    const agentOn = (n: number) =>
      new Docker({ socketPath: `/run/tfnz-hosts/h${n}.sock` }).listContainers({ filters: { label: [`tfnz.host-agent=${name}`] } });
    let a: Container; let b: Container; let c: Container;

    before(async () => {
      server = await LocationServer.start({ name, port: 0, engines: addresses.map((x) => new DockerEngine(x)) });
      loc = await Location.connect({ location: server.url, quiet: true });
      const on = (n: number) => loc.rankedNodes().find((node) => node.id === nodeIdFor(addresses[n - 1]))!;
      [a, b, c] = [1, 2, 3].map((n) => on(n).spawnContainer('busybox', { command: HTTPD }));
      // The location reaches every container across hosts: its own address is let through.
      for (const x of [a, b, c]) await x.waitTcp(80);
    });

    after(async function () {
      this.timeout(120_000);
      await loc?.disconnect();
      await server?.close();
    });

    it('closes containers on other hosts by default; a grant opens one way only, on the target\'s host', async () => {
      expect([a, b, c].map((x) => x.privateIp)).to.satisfy((ips: string[]) => ips.every((ip, i) => hostRange(i + 1).test(ip)));
      expect(await matrix({ a, b, c })).to.deep.equal([]);
      await b.allowConnectionFrom(a);
      expect(await matrix({ a, b, c })).to.deep.equal(['a>b']);
      // The rules live on h2, where b runs; b's deny rule is not on the other hosts.
      expect((await rulesOn(2)).join('\n')).to.contain(`allow:${b.id}:${a.id}`).and.contain(`deny:${b.id}`);
      expect((await rulesOn(1)).join('\n')).to.not.contain(`deny:${b.id}`);
      await b.disallowConnectionFrom(a);
      expect(await matrix({ a, b, c })).to.deep.equal([]);
      await b.allowConnectionFrom(a);
    });

    it('puts the rules back when the host lost them and its agent was replaced', async () => {
      // As a host reboot would: the agent container gone and the host's packet filter emptied.
      await new Docker({ socketPath: '/run/tfnz-hosts/h2.sock' }).getContainer(`tfnz-agent-${name}`).remove({ force: true });
      for (const chain of ['TFNZ-ALLOW', 'TFNZ-DENY']) await run('ip', ['netns', 'exec', 'tfnz-h2', 'iptables', '-w', '-F', chain]);
      expect(await reaches(c, b.privateIp!)).to.equal(true); // open: the rules were what closed it
      await eventually(async () => expect(await agentOn(2)).to.have.length(1), 30_000);
      await eventually(async () => expect(await matrix({ a, b, c })).to.deep.equal(['a>b']), 30_000);
    });

    it('removes its rules and agents from every host when the location closes', async () => {
      expect(await rulesOn(1)).to.not.deep.equal([]);
      await loc.disconnect();
      await server.close();
      for (const n of [1, 2, 3]) {
        expect(await rulesOn(n), `h${n}`).to.deep.equal([]);
        expect(await agentOn(n), `h${n}`).to.deep.equal([]);
      }
    });
  });

  describe('placement and autoscaling across hosts', function () {
    let server: LocationServer;
    let loc: Location;
    let loader: Location;
    const nameOf = (n: number) => `tfnz-h${n}`;
    const idOf = (n: number) => nodeIdFor(addresses[n - 1]);

    before(async () => {
      server = await LocationServer.start({ name: `spec-hosts-place-${nanoid(6)}`, port: 0, statsIntervalMs: 500, engines: addresses.map((x) => new DockerEngine(x)) });
      [loc, loader] = await Promise.all([0, 1].map(() => Location.connect({ location: server.url, quiet: true })));
      // Another session burns two cores on h2; wait until the session sees h2 as the busiest by at
      // least a tenth of a core (on a shared, loaded machine the burner may get little more).
      const h2 = loader.rankedNodes().find((n) => n.id === idOf(2))!;
      await h2.spawnContainer('busybox', { command: ['sh', '-c', 'while :; do :; done & while :; do :; done'] }).ready();
      await firstValueFrom(loc.nodes$.pipe(
        filter((nodes) => {
          const cpu = (n: number) => nodes[idOf(n)]?.stats.cpu ?? 0;
          return cpu(2) <= Math.min(cpu(1), cpu(3)) - 10;
        }),
        timeout({ first: 60_000, with: () => throwError(() => new Error(`h2 never looked busier: ${JSON.stringify(loc.state.nodes)}`)) }),
      ));
    });

    after(async function () {
      this.timeout(120_000);
      await Promise.all([loc, loader].map((l) => l?.disconnect()));
      await server?.close();
    });

    it('puts the next container on a host other than the loaded one', async () => {
      const picked = loc.node();
      expect(picked.name).to.not.equal(nameOf(2));
      const ctr = picked.spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      expect(ctr.privateIp).to.not.match(hostRange(2));
      await picked.destroyContainer(ctr);
    });

    it('examples/autoscale.ts spreads its replicas over the hosts that are not loaded', async () => {
      const child = runScript('examples/autoscale.ts', {
        TFNZ_LOCATION: server.url, REPLICAS: '2', MAX_EXTRA: '0', DURATION_S: '120', COOLDOWN_S: '2', DEMO_LOAD: '0',
      });
      const stderr: string[] = [];
      child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
      const placed: string[] = [];
      const all = new Promise<void>((resolve) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const on = /add a replica on (\S+) \(cpu.*initial replica/.exec(line)?.[1];
          if (on) placed.push(on);
          if (placed.length === 2) resolve();
        });
      });
      await Promise.race([all, exited(child).then((code) => { throw new Error(`autoscale exited (${code}): ${stderr.join('')}`); })]);
      child.kill('SIGINT');
      expect(await exited(child), stderr.join('')).to.equal(0);
      expect(placed, 'not on the loaded host').to.not.include(nameOf(2));
      expect([...new Set(placed)].sort(), 'spread over both other hosts').to.deep.equal([nameOf(1), nameOf(3)]);
    });
  });

  describe('names between containers across hosts', function () {
    let server: LocationServer;
    let loc: Location;
    let db: Container;
    let client: Container;
    const tag = `db-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    const on = (n: number) => loc.rankedNodes().find((node) => node.id === nodeIdFor(addresses[n - 1]))!;
    /**
     * HTTP GET from inside `from` to `host`:`port` by name, with `host` as the Host header. (busybox
     * nc drops the connection when its input ends, so the input stays open until the answer came.)
     */
    const fetchByName = async (from: Container, host: string, port: number) =>
      (await from.runProcess(`(printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 3) | nc -w 3 ${host} ${port}`)).stdout.toString();

    before(async () => {
      // The front door listens where containers on other hosts reach the location.
      server = await LocationServer.start({ name: `spec-hosts-dns-${nanoid(6)}`, port: 0, webHost: '0.0.0.0', engines: addresses.map((x) => new DockerEngine(x)) });
      loc = await Location.connect({ location: server.url, quiet: true });
      db = on(2).spawnContainer('busybox', { command: HTTPD, tag });
      client = on(1).spawnContainer('busybox', { command: ['sleep', '600'] });
      await Promise.all([db.waitTcp(80), client.ready()]);
      await db.allowConnectionFrom(client);
    });

    after(async function () {
      this.timeout(120_000);
      await loc?.disconnect();
      await server?.close();
    });

    it('resolves a container by its tag and by its id from another host, and connects by name', async () => {
      const looked = (await client.runProcess(`nslookup ${tag}`)).stdout.toString();
      expect(looked).to.contain(`Address: ${db.privateIp}`);
      expect(await fetchByName(client, tag, 80)).to.match(/^HTTP\/1\.[01] 200/);
      expect((await client.runProcess(`nslookup ${db.id.toLowerCase()}`)).stdout.toString()).to.contain(`Address: ${db.privateIp}`);
      // A name the location does not know is no name at all.
      const unknown = await client.runProcess(`nslookup no-such-${tag}; echo "exit $?"`);
      expect(unknown.stdout.toString()).to.not.contain('Address: 10.253.').and.to.not.match(/exit 0\s*$/);
    });

    it('reaches an endpoint published on the location by its name, from a container on another host', async () => {
      const fqdn = `names-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;
      const endpoint = loc.endpointFor(fqdn);
      const cluster = new Cluster({ containers: [db] });
      await endpoint.publish(cluster, fqdn);
      const reply = await fetchByName(client, fqdn, endpoint.httpPort);
      expect(reply).to.match(/^HTTP\/1\.[01] 200/);
      expect(reply).to.match(/\r\n\r\nhi\n$/);
      await endpoint.unpublish(cluster);
    });
  });

  describe('hosts coming and going', function () {
    let server: LocationServer;
    let loc: Location;
    let other: Location;
    const name = `spec-hosts-${nanoid(6)}`;
    const idOf = (n: number) => nodeIdFor(addresses[n - 1]);
    const nodeOf = (session: Location, n: number) => session.rankedNodes().find((candidate) => candidate.id === idOf(n))!;
    /** This location's containers on host N, asked through the host's own unix socket (its link may be down). */
    const leftOn = async (n: number) =>
      (await new Docker({ socketPath: `/run/tfnz-hosts/h${n}.sock` }).listContainers({ all: true, filters: { label: [`tfnz.location=${name}`] } })).length;

    before(async () => {
      // Two hosts at first; the third arrives while the sessions run. Departures use the default 15 s.
      server = await LocationServer.start({ name, port: 0, statsIntervalMs: 500, engines: addresses.slice(0, 2).map((a) => new DockerEngine(a)) });
      loc = await Location.connect({ location: server.url, quiet: true });
      other = await Location.connect({ location: server.url, quiet: true });
    });

    after(async function () {
      this.timeout(120_000);
      for (const n of [1, 2, 3]) await mendHost(n).catch(() => undefined);
      await other?.disconnect();
      await loc?.disconnect();
      await server?.close();
    });

    it('a host added while sessions run arrives in every session\'s nodeArrivals$', async () => {
      expect(Object.keys(loc.state.nodes).sort()).to.deep.equal([idOf(1), idOf(2)].sort());
      const arrivals = [loc, other].map((session) => firstValueFrom(session.nodeArrivals$));
      const info = await server.addEngine(addresses[2]);
      for (const node of await Promise.all(arrivals)) {
        expect(node.id).to.equal(info.id).and.to.equal(idOf(3));
        expect(node.alive).to.equal(true);
      }
      expect(info.name).to.equal('tfnz-h3');
      const ctr = nodeOf(loc, 3).spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      expect(ctr.privateIp).to.match(hostRange(3));
      await ctr.node.destroyContainer(ctr);
    });

    it(`a link that flaps for ${FLAP_MS / 1000} s costs nothing (departure takes ${GONE_AFTER_MS / 1000} s of silence)`, async () => {
      const ctr = nodeOf(loc, 2).spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      const departures: string[] = [];
      const sub = loc.nodes$.subscribe((nodes) => Object.values(nodes).forEach((n) => n.alive || departures.push(n.id)));
      await cutHost(2);
      // The time without a link is what is under test: nothing to await but the clock.
      await new Promise((resolve) => setTimeout(resolve, FLAP_MS));
      await mendHost(2);
      expect((await ctr.runProcess('echo still here')).stdout.toString()).to.equal('still here\n');
      sub.unsubscribe();
      expect(departures, 'no node departed').to.deep.equal([]);
      expect(ctr.status).to.equal('running');
      await ctr.node.destroyContainer(ctr);
    });

    it('a host whose link is cut departs within the stated time; its containers end with NodeGone; the rest keeps working', async () => {
      const doomed = [1, 2].map(() => nodeOf(loc, 2).spawnContainer('busybox', { command: ['sleep', '600'] }));
      const safe = nodeOf(loc, 1).spawnContainer('busybox', { command: ['sleep', '600'] });
      await Promise.all([...doomed, safe].map((c) => c.ready()));
      const endings = doomed.map((c) => firstValueFrom(c.termination$).then(() => null, (e: Error) => e));
      const otherSaw = firstValueFrom(other.nodes$.pipe(filter((nodes) => nodes[idOf(2)]?.alive === false)));
      const cutting = Date.now();
      await cutHost(2);
      const cut = Date.now();
      for (const err of await Promise.all(endings)) {
        expect(err).to.be.instanceOf(NodeGone);
        expect(err!.message).to.contain('went away');
      }
      const departed = Date.now();
      const tookMs = departed - cut;
      console.log(`      departure reported ${(tookMs / 1000).toFixed(1)} s after the link was cut (cutting it took ${cut - cutting} ms)`);
      // Silence counts from the start of the last call the engine answered (node-pool.ts noteAnswers).
      // A stats sample takes a second or two (Docker reads each container's CPU twice, a second
      // apart), so the last answered one may have begun up to ~2.5 s before the link went down,
      // which was somewhere between `cutting` and `cut`; the upper bound allows for load.
      expect(departed - cutting).to.be.at.least(GONE_AFTER_MS - 3_000);
      expect(tookMs).to.be.at.most(GONE_AFTER_MS + 10_000);
      await otherSaw;
      expect(loc.state.nodes[idOf(2)].alive).to.equal(false);
      for (let i = 0; i < 10; i++) expect(loc.node().id).to.not.equal(idOf(2));
      // The location and the other session carry on, on the hosts still reachable.
      expect(safe.status).to.equal('running');
      expect((await safe.runProcess('echo fine')).stdout.toString()).to.equal('fine\n');
      const elsewhere = nodeOf(other, 3).spawnContainer('busybox', { command: ['sh', '-c', 'echo from h3'] });
      expect(await output(elsewhere)).to.equal('from h3');
      const late = await nodeOf(loc, 1).spawnContainer('busybox', { command: ['true'] }).ready().then(() => null, (e: Error) => e);
      expect(late).to.equal(null);
      await safe.node.destroyContainer(safe);
      // The cut host's engine still runs its containers: nobody could tell it to stop them.
      expect(await leftOn(2)).to.equal(2);
    });

    it('the link returning makes the host a new arrival, and what it left behind is cleared', async () => {
      const back = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.id === idOf(2))));
      await mendHost(2);
      const node = await back;
      expect(node.alive).to.equal(true);
      await eventually(async () => expect(await leftOn(2)).to.equal(0), 30_000);
      const ctr = node.spawnContainer('busybox', { command: ['sh', '-c', 'echo back on h2'] });
      expect(await output(ctr)).to.equal('back on h2');
    });
  });
});
