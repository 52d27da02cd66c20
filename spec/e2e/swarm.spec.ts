import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { filter, firstValueFrom } from 'rxjs';
import { nanoid } from 'nanoid';
import { BadRequest, Cluster, Location, NodeGone, type Container, type Node } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { eventually } from '../support/docker';
import { exchange, getAs as get, sha256 } from '../support/net';
import { output } from '../support/container-output';
import { OVERLAY_RANGE, hostEngine, swarmDown, swarmHost, swarmUp } from '../support/swarm-hosts';
import { exited, startLocationProcess } from '../support/processes';

/**
 * Docker Swarm beneath the location (issue #18): three network-namespace hosts from
 * scripts/swarm-hosts.sh formed into one swarm, s1 the manager. The location is given only the
 * manager's address; its nodes, their labels, arrivals and departures come from the swarm, and its
 * containers sit on the swarm's attachable overlay, reached through a relay on each node.
 */
describe('swarm: nodes from a Docker Swarm manager, containers on its overlay', function () {
  this.timeout(180_000);
  let manager: string;
  let server: LocationServer;
  let loc: Location;
  const name = `spec-swarm-${nanoid(6)}`;
  /** The session's live node on host N (1-3), found by the swarm label the script sets. */
  const host = (n: number): Node => {
    const node = loc.rankedNodes().find((candidate) => candidate.labels['tfnz.host'] === `s${n}`);
    if (!node) throw new Error(`host s${n}'s node is not live`);
    return node;
  };
  const nodeIdOf = (n: number) => Object.values(loc.state.nodes).find((node) => node.labels?.['tfnz.host'] === `s${n}`)?.id;
  /** This location's session containers on host N, asked through the host's own socket. */
  const leftOn = async (n: number) =>
    (await hostEngine(n).listContainers({ all: true, filters: { label: [`tfnz.location=${name}`] } })).length;

  before(async function () {
    this.timeout(300_000);
    manager = await swarmUp();
    server = await LocationServer.start({ name, port: 0, statsIntervalMs: 500, swarm: { manager, reconcileMs: 1000 } });
    loc = await Location.connect({ location: server.url, quiet: true });
  });

  after(async function () {
    this.timeout(300_000);
    for (const n of [1, 2, 3]) await swarmHost('mend', n).catch(() => undefined);
    await loc?.disconnect();
    await server?.close();
    await swarmDown();
  });

  it('takes one live node per ready swarm node from the manager, named after the host, with its swarm labels', () => {
    expect(manager).to.match(/^https:\/\/10\.254\.0\.11:2376\?certs=/);
    const nodes = Object.values(loc.state.nodes);
    expect(nodes.map((n) => n.name).sort()).to.deep.equal(['tfnz-s1', 'tfnz-s2', 'tfnz-s3']);
    for (const n of [1, 2, 3]) {
      expect(host(n).name).to.equal(`tfnz-s${n}`);
      expect(host(n).labels['tfnz.engine']).to.equal(`https://10.254.0.1${n}:2376`);
      expect(host(n).alive).to.equal(true);
      expect(host(n).stats.memory).to.be.greaterThan(0);
    }
  });

  it('tfnz location --swarm takes the same nodes from the manager, and refuses an engine that is no manager', async () => {
    const { child, url } = await startLocationProcess(`spec-swarm-cli-${nanoid(6)}`, ['--swarm', manager]);
    try {
      const session = await Location.connect({ location: url, quiet: true });
      expect(Object.values(session.state.nodes).map((n) => n.name).sort()).to.deep.equal(['tfnz-s1', 'tfnz-s2', 'tfnz-s3']);
      await session.disconnect();
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    const worker = manager.replace('10.254.0.11', '10.254.0.12');
    const refused = await LocationServer.start({ name: `${name}-worker`, port: 0, swarm: worker }).then(() => null, (e: Error) => e);
    expect(refused).to.be.instanceOf(BadRequest);
    expect(refused!.message).to.contain('is not a swarm manager');
  });

  it('spawns on every host, each container on the overlay', async () => {
    for (const n of [1, 2, 3]) {
      const ctr = host(n).spawnContainer('busybox', { stdin: true, command: ['sh', '-c', `read line; echo "s${n} got $line"`] });
      const said = output(ctr);
      await ctr.ready();
      expect(ctr.privateIp, `s${n}`).to.match(OVERLAY_RANGE);
      ctr.stdin('forty-two\n');
      expect(await said).to.equal(`s${n} got forty-two`);
      const onHost = await hostEngine(n).listContainers({ all: true, filters: { label: [`tfnz.location=${name}`] } });
      expect(onHost.length, `containers on s${n}`).to.equal(1);
      await host(n).destroyContainer(ctr);
    }
  });

  it('holds grants across hosts: closed by default, open by name once granted, one way only, closed again when taken back', async () => {
    const serve = (n: number) => host(n).spawnContainer('busybox', {
      command: ['httpd', '-f', '-p', '8080', '-h', '/www'], preBootFiles: [['/www/index.html', `served on s${n}\n`]],
    });
    const [web, client] = [serve(1), serve(3)];
    await Promise.all([web.waitTcp(8080), client.waitTcp(8080)]);
    // The reply's last line, or nothing when no connection opened within 3 s.
    const fetch = async (from: Container, to: string) =>
      (await from.runProcess(['sh', '-c', `printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${to} 8080 | tail -1`])).stdout.toString().trim();
    expect(await fetch(client, `tfnz-${web.id}`), 'before any grant').to.equal('');
    await web.allowConnectionFrom(client);
    expect(await fetch(client, `tfnz-${web.id}`), 'granted, by name').to.equal('served on s1');
    expect(await fetch(web, client.privateIp!), 'the other way').to.equal('');
    await web.disallowConnectionFrom(client);
    expect(await fetch(client, web.privateIp!), 'taken back').to.equal('');
    await Promise.all([web, client].map((c) => c.node.destroyContainer(c)));
  });

  it('tunnels to a container on another host through its relay, 4 MB intact both ways', async () => {
    const size = 4 * 1024 * 1024;
    // The container sends back exactly what it got and then closes (the relay cannot pass a half-close on).
    const echo = host(2).spawnContainer('busybox', {
      command: ['sh', '-c', 'chmod +x /echo.sh && exec nc -ll -p 9000 -e /echo.sh'], preBootFiles: [['/echo.sh', `#!/bin/sh\nexec head -c ${size}\n`]],
    });
    await echo.waitTcp(9000);
    const tunnel = await echo.attachTunnel(9000);
    const data = randomBytes(size);
    const back = await exchange(tunnel.localPort, data);
    expect(back.length).to.equal(data.length);
    expect(sha256(back)).to.equal(sha256(data));
    await host(2).destroyContainer(echo);
  });

  it('balances the front door over a cluster with one member on each host', async () => {
    const servers = [1, 2, 3].map((n) => host(n).spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `served by s${n}\n`]] }));
    await Promise.all(servers.map((s) => s.waitHttp200()));
    const fqdn = `swarm-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;
    const endpoint = loc.endpointFor(fqdn);
    const cluster = new Cluster({ containers: servers });
    await endpoint.publish(cluster, fqdn);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 15; i++) {
      const answer = await get(endpoint.httpPort, fqdn);
      expect(answer.status).to.equal(200);
      counts[answer.body.trim()] = (counts[answer.body.trim()] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).to.deep.equal(['served by s1', 'served by s2', 'served by s3']);
    await endpoint.unpublish(cluster);
    await Promise.all(servers.map((s) => s.node.destroyContainer(s)));
  });

  it('a drained node departs (its containers end with NodeGone) and takes no new containers; set active, it returns', async () => {
    const id = nodeIdOf(3)!;
    const doomed = host(3).spawnContainer('busybox', { command: ['sleep', '600'] });
    await doomed.ready();
    const ending = firstValueFrom(doomed.termination$).then(() => null, (e: Error) => e);
    await swarmHost('drain', 3);
    const err = await ending;
    expect(err).to.be.instanceOf(NodeGone);
    expect(loc.state.nodes[id].alive).to.equal(false);
    for (let i = 0; i < 10; i++) expect(loc.node().id).to.not.equal(id);
    expect(loc.rankedNodes().map((n) => n.id)).to.not.include(id);
    await eventually(async () => expect(await leftOn(3)).to.equal(0), 30_000);
    const back = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.id === id)));
    await swarmHost('active', 3);
    expect((await back).alive).to.equal(true);
    expect(await output(host(3).spawnContainer('busybox', { command: ['echo', 'active again'] }))).to.equal('active again');
  });

  it('a node that leaves the swarm departs; one that joins arrives in nodeArrivals$', async () => {
    const id = nodeIdOf(3)!;
    const gone = firstValueFrom(loc.nodes$.pipe(filter((nodes) => nodes[id]?.alive === false)));
    await swarmHost('leave', 3);
    await gone;
    const arrival = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.name === 'tfnz-s3')));
    await swarmHost('join', 3);
    const node = await arrival;
    expect(node.name).to.equal('tfnz-s3');
    expect(await output(node.spawnContainer('busybox', { command: ['echo', 'joined'] }))).to.equal('joined');
  });

  it('a host whose link is cut departs, its containers end with NodeGone; the others keep working; mended, it returns', async () => {
    const id = nodeIdOf(2)!;
    const doomed = host(2).spawnContainer('busybox', { command: ['sleep', '600'] });
    const safe = host(1).spawnContainer('busybox', { command: ['sleep', '600'] });
    await Promise.all([doomed.ready(), safe.ready()]);
    const ending = firstValueFrom(doomed.termination$).then(() => null, (e: Error) => e);
    const cut = Date.now();
    await swarmHost('cut', 2);
    const err = await ending;
    const tookMs = Date.now() - cut;
    console.log(`      departure reported ${(tookMs / 1000).toFixed(1)} s after the link was cut`);
    expect(err).to.be.instanceOf(NodeGone);
    expect(tookMs).to.be.at.most(40_000);
    expect(loc.state.nodes[id].alive).to.equal(false);
    expect((await safe.runProcess('echo fine')).stdout.toString()).to.equal('fine\n');
    const back = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.id === id)));
    await swarmHost('mend', 2);
    expect((await back).alive).to.equal(true);
    // For a few seconds after its link returns a node may not yet attach containers to the overlay
    // (the engine says 'attaching to network failed'): the spawn fails with a typed error, then works.
    await eventually(async () => expect(await output(host(2).spawnContainer('busybox', { command: ['echo', 'back on s2'] }))).to.equal('back on s2'), 60_000);
    // The container the cut host kept running was reported lost, so it is cleared once the host returns.
    const kept = async () => (await hostEngine(2).listContainers({ all: true, filters: { label: [`tfnz.container=${doomed.id}`] } })).length;
    await eventually(async () => expect(await kept()).to.equal(0), 30_000);
  });
});
