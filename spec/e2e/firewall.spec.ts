import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { filter, firstValueFrom } from 'rxjs';
import { nanoid } from 'nanoid';
import { BadRequest, ContainerNotFound, Location, type Container } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { rawClient } from '../support/raw-client';

const run = promisify(execFile);

/** A busybox httpd serving "hi" over HTTP on port 80. */
const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www'];

const probe = (ip: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80 | grep -q '200 OK' && echo REACHED || echo BLOCKED`;

/** Measured from inside `from`: can it open an HTTP connection to `ip`? (2 s timeout) */
async function reaches(from: Container, ip: string): Promise<boolean> {
  // (this image's busybox wget crashes, so speak HTTP through nc; -w 2 bounds the connect)
  const { stdout } = await from.runProcess(probe(ip));
  const out = stdout.toString();
  expect(out).to.match(/REACHED|BLOCKED/);
  return out.includes('REACHED');
}

/** Every ordered pair "x>y" that can connect, all probes at once. */
async function matrix(named: Record<string, Container>): Promise<string[]> {
  const pairs = Object.keys(named).flatMap((x) => Object.keys(named).filter((y) => y !== x).map((y) => [x, y] as const));
  const ok = await Promise.all(pairs.map(([x, y]) => reaches(named[x], named[y].privateIp!)));
  return pairs.filter((_, i) => ok[i]).map(([x, y]) => `${x}>${y}`).sort();
}

/** Packet-filter rules (any location) that mention `id`. */
async function rulesAbout(id: string): Promise<string[]> {
  const out: string[] = [];
  for (const chain of ['TFNZ-ALLOW', 'TFNZ-DENY']) {
    const listing = await run('iptables', ['-w', '-S', chain]).then((r) => r.stdout, () => '');
    out.push(...listing.split('\n').filter((l) => l.includes(id)));
  }
  return out;
}

describe('connecting containers (firewall, real location, real Docker networking)', function () {
  this.timeout(120_000);
  let server: LocationServer;
  before(async () => {
    server = await LocationServer.start({ name: `spec-fw-${nanoid(6)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });
  const connect = () => Location.connect({ location: server.url, quiet: true });

  it('closes containers to each other by default; allow opens one way only; disallow closes again', async () => {
    const loc = await connect();
    try {
      const node = loc.node();
      const [a, b, c] = [node.spawnContainer('busybox', { command: HTTPD }), node.spawnContainer('busybox', { command: HTTPD }), node.spawnContainer('busybox', { command: HTTPD })];
      for (const x of [a, b, c]) await x.waitTcp(80); // the location (the host) still reaches them
      const all = { a, b, c };
      expect(await matrix(all), 'closed by default').to.deep.equal([]);

      await b.allowConnectionFrom(a);
      expect(await matrix(all), 'a may open connections to b, nothing else').to.deep.equal(['a>b']);
      await b.allowConnectionFrom(a); // twice is the same as once
      await c.allowConnectionFrom(b);
      expect(await matrix(all)).to.deep.equal(['a>b', 'b>c']);

      await b.reboot();
      expect(await matrix(all), 'grants survive a reboot').to.deep.equal(['a>b', 'b>c']);

      await b.disallowConnectionFrom(a);
      expect(await matrix(all), 'new connections after disallow are refused').to.deep.equal(['b>c']);
      await c.disallowConnectionFrom(b);
      expect(await matrix(all)).to.deep.equal([]);
      await b.disallowConnectionFrom(a); // nothing to take back: fine

      expect(await b.allowConnectionFrom(b).catch((e: Error) => e)).to.be.instanceOf(BadRequest);
      await b.allowConnectionFrom(a);
      expect(await rulesAbout(a.id)).to.not.deep.equal([]);
      await node.destroyContainer(a);
      expect(await rulesAbout(a.id), 'destroying a container removes every rule about it').to.deep.equal([]);
      for (const x of [b, c]) await node.destroyContainer(x);
      expect([...(await rulesAbout(b.id)), ...(await rulesAbout(c.id))]).to.deep.equal([]);
    } finally {
      await loc.disconnect();
    }
  });

  it('connects a container and an external container of the same user, never across users', async () => {
    const owner = await connect();
    const other = await connect();
    const mallory = await rawClient(server.url);
    try {
      const tag = `db-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      const appeared = firstValueFrom(other.externals$.pipe(filter((e) => Object.values(e).some((x) => x.tag === tag))));
      const db = owner.node().spawnContainer('busybox', { tag, command: HTTPD });
      const client = other.node().spawnContainer('busybox', { command: HTTPD });
      await Promise.all([db.waitTcp(80), client.waitTcp(80), appeared]);
      const ext = other.externalContainer(tag);
      expect(await matrix({ db, client })).to.deep.equal([]);

      await ext.allowConnectionFrom(client);
      expect(await matrix({ db, client }), 'the external container opened to our container').to.deep.equal(['client>db']);
      await client.allowConnectionFrom(ext);
      expect(await matrix({ db, client })).to.deep.equal(['client>db', 'db>client']);
      await ext.disallowConnectionFrom(client);
      await client.disallowConnectionFrom(ext);
      expect(await matrix({ db, client })).to.deep.equal([]);

      // Another user: cannot name our containers either way, and her container stays shut out.
      const opened = await mallory.request('open_session', { client: 'spec', user: 'mallory' });
      expect(opened.error).to.equal(undefined);
      const offer = (await mallory.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as { params: { nodes: { id: string }[] } };
      const hers = nanoid();
      const spawned = await mallory.request('spawn_container', { container: hers, node: offer.params.nodes[0].id, image: 'busybox', command: ['sleep', '600'] });
      expect(spawned.error).to.equal(undefined);
      for (const params of [{ container: db.id, from: hers }, { container: hers, from: db.id }, { container: client.id, from: hers }]) {
        const reply = await mallory.request('allow_connection', params);
        expect(reply.error?.code, JSON.stringify(params)).to.equal(new ContainerNotFound('').code);
      }
      const fromHers = await run('docker', ['exec', `tfnz-${hers}`, 'sh', '-c', probe(db.privateIp!)]);
      expect(fromHers.stdout.trim()).to.equal('BLOCKED');
      // Nor may our user grant her container access, even naming it.
      expect(await client.allowConnectionFrom({ id: hers } as unknown as Container).catch((e: Error) => e)).to.be.instanceOf(ContainerNotFound);
    } finally {
      mallory.ws.close();
      await other.disconnect();
      await owner.disconnect();
    }
  });
});
