import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { nanoid } from 'nanoid';
import { Cluster, Location, type Container } from '../../lib/index';
import { ensureAccount } from '../../lib/client/accounts';
import { LocationServer } from '../../lib/server/index';
import { NameServer } from '../../lib/server/name-server';
import { freshHome, inHome } from '../support/home';

/** A busybox httpd serving "hi" on port 80. */
const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www'];
const SLEEP = ['sleep', '600'];
const dnsName = (prefix: string) => `${prefix}-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;

/** What `command` prints inside `from` (stdout and stderr: busybox tools complain on stderr). */
async function inside(from: Container, command: string): Promise<string> {
  const { stdout, stderr } = await from.runProcess(command);
  return stdout.toString() + stderr.toString();
}

/** What a GET of `fqdn` from local address `from` to `to`:`port` reads before the connection closes. */
function answerFrom(from: string, to: string, port: number, fqdn: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host: to, port, localAddress: from }, () => socket.write(`GET / HTTP/1.1\r\nHost: ${fqdn}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

/**
 * Names for containers on the location's own engine (the default bridge): the location serves DNS
 * and its front door at the containers' gateway (docker0's address), on a real engine.
 */
describe('names between containers on the location\'s own engine', function () {
  this.timeout(120_000);
  const logged: string[] = [];
  const home = freshHome('names-other-user');
  const tag = dnsName('db');
  const foreignTag = dnsName('theirs');
  let gateway: string;
  let server: LocationServer;
  let loc: Location;
  let other: Location;
  let db: Container;
  let client: Container;
  let foreign: Container;
  // The machine's resolver stands in for the outside world: a name server of the spec's own, on the loopback.
  const outsideName = `${dnsName('outside')}.example`;
  const upstreamPort = 20_000 + Math.floor(Math.random() * 20_000);
  const upstream = new NameServer((name) => (name === outsideName ? '10.9.8.7' : undefined), () => undefined, upstreamPort);

  before(async () => {
    expect(await upstream.listen('127.0.0.1')).to.equal(true);
    server = await LocationServer.start({ name: `spec-names-${nanoid(6)}`, port: 0, upstreamDns: `127.0.0.1:${upstreamPort}`, log: (line) => logged.push(line) });
    loc = await Location.connect({ location: server.url, quiet: true });
    other = await inHome(home, () => {
      ensureAccount(server.url);
      return Location.connect({ location: server.url, quiet: true });
    });
    db = loc.node().spawnContainer('busybox', { command: HTTPD, tag });
    client = loc.node().spawnContainer('busybox', { command: SLEEP });
    foreign = other.node().spawnContainer('busybox', { command: SLEEP, tag: foreignTag });
    await Promise.all([db.waitTcp(80), client.ready(), foreign.ready()]);
    // The gateway as the container itself routes to it (Docker's inspect does not always list one).
    gateway = /^default via (\S+)/m.exec(await inside(client, 'ip route'))![1];
    await db.allowConnectionFrom(client);
  });

  after(async () => {
    await other?.disconnect();
    await loc?.disconnect();
    await server?.close();
    await upstream.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('gives its containers the location, at their gateway, as their name server', async () => {
    expect(await inside(client, 'cat /etc/resolv.conf')).to.match(new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'));
    expect(logged.join('\n')).to.not.contain('cannot listen');
  });

  it('reaches an endpoint published on the location by its name', async () => {
    const fqdn = `${dnsName('names')}.localhost`;
    const endpoint = loc.endpointFor(fqdn);
    const cluster = new Cluster({ containers: [db] });
    await endpoint.publish(cluster, fqdn);
    try {
      expect(await inside(client, `nslookup ${fqdn}`)).to.contain(`Address: ${gateway}`);
      expect(await inside(client, `wget -q -O- http://${fqdn}:${endpoint.httpPort}/`)).to.equal('hi\n');
      // At the gateway the front door admits the containers' subnet only, not other addresses (a neighbour routing there).
      expect(await answerFrom('127.0.0.1', gateway, endpoint.httpPort, fqdn)).to.equal('');
    } finally {
      await endpoint.unpublish(cluster);
    }
  });

  it('resolves another container of the same user by tag and by id, and connects by name', async () => {
    expect(await inside(client, `nslookup ${tag}`)).to.contain(`Address: ${db.privateIp}`);
    expect(await inside(client, `nslookup ${db.id.toLowerCase()}`)).to.contain(`Address: ${db.privateIp}`);
    expect(await inside(client, `wget -q -O- http://${tag}/`)).to.equal('hi\n');
  });

  it('does not resolve another user\'s containers: NXDOMAIN both ways', async () => {
    // The other user's container does get names: its own tag resolves.
    expect(await inside(foreign, `nslookup ${foreignTag}`)).to.contain(`Address: ${foreign.privateIp}`);
    expect(await inside(client, `nslookup ${foreignTag}`)).to.contain('NXDOMAIN').and.not.contain(`Address: ${foreign.privateIp}`);
    expect(await inside(foreign, `nslookup ${tag}`)).to.contain('NXDOMAIN').and.not.contain(`Address: ${db.privateIp}`);
  });

  it('passes other names to the machine\'s resolver, and its answers back', async () => {
    expect(await inside(client, `nslookup ${outsideName}`)).to.contain('Address: 10.9.8.7');
    expect(await inside(client, `nslookup not-${outsideName}`)).to.contain('NXDOMAIN');
  });

  it('a second location on this machine says it cannot serve names there, and its containers run without them', async () => {
    const lines: string[] = [];
    const second = await LocationServer.start({ name: `spec-names-2-${nanoid(6)}`, port: 0, log: (line) => lines.push(line) });
    try {
      const session = await Location.connect({ location: second.url, quiet: true });
      try {
        const c = session.node().spawnContainer('busybox', { command: SLEEP });
        expect(await inside(c, 'cat /etc/resolv.conf')).to.not.contain(`nameserver ${gateway}`);
        expect(lines.join('\n')).to.contain(`name server: cannot listen on ${gateway}:53`);
        // The first location still answers its own containers.
        expect(await inside(client, `nslookup ${tag}`)).to.contain(`Address: ${db.privateIp}`);
      } finally {
        await session.disconnect();
      }
    } finally {
      await second.close();
    }
  });
});
