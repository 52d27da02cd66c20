import { expect } from 'chai';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Location, NodeGone, type Node } from '../../lib/index';
import { DockerEngine, LocationServer } from '../../lib/server/index';
import { eventually } from '../support/docker';
import { exited, runScript, startLocationProcess } from '../support/processes';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import {
  claimNodeEngines, killNodeEngine, nodeEngineAddress, nodeEngineDocker, releaseNodeEngines, startNodeEngine,
} from '../support/node-engines';

/**
 * Several real nodes: three extra dockerds on this machine (own sockets, data roots, bridges),
 * started by scripts/start-node-engine.sh. One location runs over two of them; the third arrives
 * while clients are connected. Engines are killed for real to make nodes depart.
 */
describe('nodes: several real engines, stats, ranking, arrivals and departures', function () {
  this.timeout(180_000);
  // Engine numbers claimed for this run, so parallel runs on one machine do not collide.
  let ENGINES: number[] = [];
  let A: number, B: number, C: number;
  const subnet = (n: number) => new RegExp(`^10\\.${200 + n}\\.0\\.`);
  const name = `spec-${nanoid(8)}`;
  let server: LocationServer;
  let loc: Location;
  const idOf = (n: number) => server.nodes.byAddress(nodeEngineAddress(n))!.info.id;
  const ourContainers = async (n: number) =>
    (await nodeEngineDocker(n).listContainers({ all: true, filters: { label: [`tfnz.location=${name}`] } })).map((c) => c.Id);

  before(async function () {
    this.timeout(300_000);
    ENGINES = await claimNodeEngines(3);
    [A, B, C] = ENGINES;
    server = await LocationServer.start({
      name, port: 0, statsIntervalMs: 500,
      engines: [A, B].map((n) => new DockerEngine(nodeEngineAddress(n))),
    });
    loc = await Location.connect({ location: server.url, quiet: true });
  });

  after(async function () {
    this.timeout(300_000);
    await loc?.disconnect();
    await server?.close();
    await releaseNodeEngines(ENGINES);
  });

  it('offers one node per engine, each live with its own capacity', async () => {
    const nodes = Object.values(loc.state.nodes);
    expect(nodes.map((n) => n.id).sort()).to.deep.equal([idOf(A), idOf(B)].sort());
    expect(new Set(nodes.map((n) => n.name)).size, 'names are distinct').to.equal(2);
    for (const n of nodes) {
      expect(n.alive).to.equal(true);
      expect(n.stats.cpu).to.be.greaterThan(0);
      expect(n.stats.memory).to.be.greaterThan(0);
    }
    // Containers really land on the chosen engine, with an address on that engine's bridge.
    const target = loc.rankedNodes().find((n) => n.id === idOf(B))!;
    const ctr = target.spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    expect(ctr.privateIp).to.match(subnet(B));
    expect(await ourContainers(B)).to.have.length(1);
    expect(await ourContainers(A)).to.have.length(0);
    const counted = await firstValueFrom(target.stats$.pipe(filter((s) => s.containers >= 1)));
    expect(counted.containers).to.be.at.least(1);
    await target.destroyContainer(ctr);
  });

  it('ranks a node lower while a container burns CPU on it, and back when it stops', async () => {
    const [first, second] = loc.rankedNodes();
    expect(second, 'two live nodes').to.not.equal(undefined);
    const cores = first.stats.cpu; // idle: every core spare
    const burner = first.spawnContainer('busybox', { command: ['sh', '-c', 'while :; do :; done'] });
    await burner.ready();
    // Stats are sampled every 500 ms from the engine's container stats: wait for the load to show.
    // (A quarter core is enough to tell: other programs on this machine may compete for the CPU.)
    const loaded = await firstValueFrom(first.stats$.pipe(filter((s) => s.cpu <= cores - 25)));
    expect(loaded.cpu).to.be.at.most(cores - 25);
    await firstValueFrom(loc.nodes$.pipe(filter(() => loc.rankedNodes()[0] !== first)));
    expect(loc.rankedNodes()[0]).to.equal(second);
    expect(loc.node()).to.equal(second);
    await first.destroyContainer(burner);
    const idle = await firstValueFrom(first.stats$.pipe(filter((s) => s.cpu >= cores - 10)));
    expect(idle.cpu).to.be.at.least(cores - 10);
  });

  it('sees an engine added while connected: nodeArrivals$, newNodeCallback, nodes$', async () => {
    const arrivals: Node[] = [];
    const other = await Location.connect({ location: server.url, quiet: true, newNodeCallback: (n) => arrivals.push(n) });
    try {
      const arrived = firstValueFrom(loc.nodeArrivals$);
      const info = await server.addEngine(nodeEngineAddress(C));
      const node = await arrived;
      expect(node.id).to.equal(info.id);
      expect(node.alive).to.equal(true);
      expect(loc.state.nodes[info.id].stats.cpu).to.be.greaterThan(0);
      await eventually(async () => expect(arrivals.map((n) => n.id)).to.deep.equal([info.id]));
      expect(Object.keys(loc.state.nodes)).to.have.length(3);
      const ctr = node.spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      expect(ctr.privateIp).to.match(subnet(C));
      await node.destroyContainer(ctr);
    } finally {
      await other.disconnect();
    }
  });

  it('reports every container of a killed engine terminated, keeps the node with no capacity, never picks it', async () => {
    const doomed = loc.rankedNodes().find((n) => n.id === idOf(B))!;
    const survivor = loc.rankedNodes().find((n) => n.id === idOf(A))!;
    // They stop promptly on SIGTERM, so the engine's restart later need not wait to kill them.
    const onDoomed = [1, 2].map(() => doomed.spawnContainer('busybox', { command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] }));
    const safe = survivor.spawnContainer('busybox', { command: ['sleep', '600'] });
    await Promise.all([...onDoomed, safe].map((c) => c.ready()));
    const terminations = onDoomed.map((c) => firstValueFrom(c.termination$).then(() => null, (e: Error) => e));
    const statuses = onDoomed.map((c) => firstValueFrom(c.status$.pipe(toArray())));
    await killNodeEngine(B);
    for (const err of await Promise.all(terminations)) {
      expect(err).to.be.instanceOf(NodeGone);
      expect(err!.message, 'the location says why').to.match(/went away: its engine/);
    }
    for (const seen of await Promise.all(statuses)) expect(seen).to.deep.equal(['running', 'destroyed']);
    const info = loc.state.nodes[doomed.id];
    expect(info.alive).to.equal(false);
    expect(info.stats).to.deep.equal({ cpu: 0, memory: 0, paging: 0, containers: 0 });
    expect(loc.rankedNodes().map((n) => n.id)).to.not.include(doomed.id);
    for (let i = 0; i < 20; i++) expect(loc.node().id).to.not.equal(doomed.id);
    expect(safe.status, 'other nodes are untouched').to.equal('running');
    // Asking the gone node anyway fails with a typed error.
    const late = await doomed.spawnContainer('busybox', { command: ['true'] }).ready().then(() => null, (e: Error) => e);
    expect(late).to.be.instanceOf(NodeGone);
    await survivor.destroyContainer(safe);
  });

  it('takes a returning engine back as a live node and clears what it left behind', async () => {
    const id = idOf(B);
    const back = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.id === id), take(1)));
    await startNodeEngine(B);
    const node = await back;
    expect(node.alive).to.equal(true);
    // The containers of the departure are removed from the engine (it kept them as stopped).
    await eventually(async () => expect(await ourContainers(B)).to.deep.equal([]), 30_000);
    const ctr = node.spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    await node.destroyContainer(ctr);
  });

  it('removes an engine on request: its containers end with NodeGone and leave the engine', async () => {
    const id = idOf(C);
    const node = loc.rankedNodes().find((n) => n.id === id)!;
    const ctr = node.spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    const ended = firstValueFrom(ctr.termination$).then(() => null, (e: Error) => e);
    await server.removeEngine(nodeEngineAddress(C));
    expect(await ended).to.be.instanceOf(NodeGone);
    expect(loc.state.nodes[id].alive).to.equal(false);
    expect(await ourContainers(C)).to.deep.equal([]);
    // A removed engine is not probed for a return; addEngine brings it back.
    const again = firstValueFrom(loc.nodeArrivals$.pipe(filter((n) => n.id === id)));
    await server.addEngine(nodeEngineAddress(C));
    expect((await again).alive).to.equal(true);
  });

  it('follows an engines file while running (tfnz location --engines-file): lines added arrive, lines removed depart', async () => {
    const file = join(tmpdir(), `tfnz-engines-${nanoid(8)}`);
    writeFileSync(file, `# engines of this location\n${nodeEngineAddress(A)}  first\n`);
    const { child, url } = await startLocationProcess(`spec-${nanoid(8)}`, ['--engines-file', file, '--stats-interval', '500']);
    const other = await Location.connect({ location: url, quiet: true });
    try {
      expect(Object.values(other.state.nodes).map((n) => n.name)).to.deep.equal(['first']);
      const arrived = firstValueFrom(other.nodeArrivals$);
      appendFileSync(file, `${nodeEngineAddress(C)} third\n`);
      const node = await arrived;
      expect(node.name).to.equal('third');
      const ctr = node.spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      const ended = firstValueFrom(ctr.termination$).then(() => null, (e: Error) => e);
      writeFileSync(file, `${nodeEngineAddress(A)} first\n`);
      expect(await ended).to.be.instanceOf(NodeGone);
      expect(other.state.nodes[node.id].alive).to.equal(false);
      expect(other.rankedNodes().map((n) => n.name)).to.deep.equal(['first']);
    } finally {
      await other.disconnect();
      child.kill('SIGTERM');
      await exited(child);
      rmSync(file, { force: true });
    }
  });

  it('uses an engine over TCP with TLS (client certificates) as a node', async () => {
    const address = `https://127.0.0.1:${23700 + A}?certs=/run/tfnz/node${A}-tls`;
    const tls = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0, engines: [new DockerEngine(address)] });
    const other = await Location.connect({ location: tls.url, quiet: true });
    try {
      const node = other.node();
      expect(node.stats.cpu).to.be.greaterThan(0);
      const ctr = node.spawnContainer('busybox', { command: ['sh', '-c', 'echo over tls'] });
      const out: string[] = [];
      ctr.stdout$.subscribe((c) => out.push(c.data.toString()));
      expect(await firstValueFrom(ctr.termination$)).to.equal(0);
      expect(out.join('')).to.equal('over tls\n');
      // Without the client certificate the engine refuses: adding it fails and leaves no node.
      const refused = await tls.addEngine(`https://127.0.0.1:${23700 + A}`).then(() => null, (e: Error) => e);
      expect(refused?.message).to.match(/certificate/);
      expect(Object.keys(other.state.nodes)).to.have.length(1);
    } finally {
      await other.disconnect();
      await tls.close();
    }
  });

  /** Lines an example prints, and a way to await one. */
  function follow(child: ChildProcess) {
    const seen: string[] = [];
    const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      seen.push(line);
      for (const w of waiters.filter((w) => w.match.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const line = (match: RegExp) => {
      const found = seen.find((l) => match.test(l));
      return found !== undefined ? Promise.resolve(found) : new Promise<string>((resolve) => waiters.push({ match, resolve }));
    };
    return { seen, stderr, line };
  }

  it('examples/autoscale.ts spreads its replicas and adds one on a node that arrives', async () => {
    const address = nodeEngineAddress(C);
    await server.removeEngine(address);
    const child = runScript('examples/autoscale.ts', { TFNZ_LOCATION: server.url, REPLICAS: '2', DURATION_S: '120', COOLDOWN_S: '2', DEMO_LOAD: '0' });
    const out = follow(child);
    const first = await out.line(/initial replica 1\/2/);
    const second = await out.line(/initial replica 2\/2/);
    const nodeName = (line: string) => /add a replica on (.*?) \(cpu/.exec(line)?.[1];
    expect(nodeName(first)).to.not.equal(nodeName(second), 'spread over two nodes');
    await server.addEngine(address);
    const arrival = await out.line(/arrived/);
    expect(arrival).to.match(/add a replica on .*: node .* arrived → 3 replicas/);
    child.kill('SIGINT'); // Ctrl-C ends it (else DURATION_S would)
    expect(await exited(child), out.stderr.join('')).to.equal(0);
    expect(out.seen.join('\n')).to.match(/Ctrl-C: stopping/);
    expect(out.seen.at(-1)).to.match(/done$/);
  });

  it('examples/node-arrivals.ts greets a node that arrives while it runs', async () => {
    const address = nodeEngineAddress(C);
    await server.removeEngine(address);
    const child = runScript('examples/node-arrivals.ts', { TFNZ_LOCATION: server.url, DURATION_S: '120' });
    const out = follow(child);
    await out.line(/connected; nodes:/);
    await server.addEngine(address);
    expect(await out.line(/node arrived:/)).to.contain(idOf(C));
    expect(await out.line(/says: hello from/)).to.match(new RegExp(`at 10\\.${200 + C}\\.0\\.`));
    child.kill('SIGINT');
    expect(await exited(child), out.stderr.join('')).to.equal(0);
    expect(out.seen.at(-1)).to.match(/done$/);
  });
});
