import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { nanoid } from 'nanoid';
import { Cluster, Location, type Container } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';

/**
 * The front door with worker processes (frontDoorWorkers, as `tfnz location` runs it): the
 * workers proxy plain HTTP, hand back what they do not serve, follow the routes as they change,
 * are replaced when they die, and end with the location.
 */

/** Writes `raw` on one connection and reads until the front door closes it; the status codes in order. */
function statuses(port: number, raw: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(raw, 'latin1'));
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no end in 10 s; so far: ${JSON.stringify(text.slice(0, 300))}`)));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => resolve([...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]))));
    socket.on('error', reject);
  });
}

const get = (host: string) => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const lastGet = (host: string) => `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

/** user+system CPU of a process so far, in clock ticks. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('front door workers: plain HTTP proxied by worker processes (real location, real nginx)', function () {
  this.timeout(180_000);
  let server: LocationServer | undefined;
  let loc: Location;
  let port: number;
  let ctr: Container;
  const site = `work-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;

  before(async () => {
    server = await LocationServer.start({ name: `spec-workers-${nanoid(6)}`, port: 0, frontDoorWorkers: 2 });
    loc = await Location.connect({ location: server.url, quiet: true });
    ctr = loc.node().spawnContainer('nginx');
    await ctr.waitHttp200();
    const endpoint = loc.endpointFor(site);
    port = endpoint.httpPort;
    await endpoint.publish(new Cluster({ containers: [ctr] }), site);
    await endpoint.waitHttp200(site);
  });
  after(async () => {
    await loc?.disconnect();
    await server?.close();
  });

  it('proxies requests in its worker processes', async () => {
    const pids = server!.frontDoorWorkerPids;
    expect(pids).to.have.length(2);
    const before = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    // 8 connections of 100 requests each: spread over both workers, about 100 ms of their CPU.
    const runs = await Promise.all(Array.from({ length: 8 }, () => statuses(port, get(site).repeat(99) + lastGet(site))));
    for (const codes of runs) expect(codes).to.deep.equal(Array(100).fill(200));
    expect(pids.reduce((sum, pid) => sum + cpuTicks(pid), 0), 'the workers\' CPU time').to.be.above(before);
  });

  it('hands the location what it does not serve, mid-connection, and follows the routes as they change', async () => {
    // A name nobody published: the worker hands the connection back; node:http's path answers 404.
    expect(await statuses(port, get(site) + lastGet('nobody.localhost'))).to.deep.equal([200, 404]);
    // A chunked body is node:http's to carry: nginx refuses POST on a static page after reading it.
    const chunked = `POST / HTTP/1.1\r\nHost: ${site}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
    expect(await statuses(port, get(site) + chunked + lastGet(site))).to.deep.equal([200, 405, 200]);
    // A second name for the same container: served as soon as published, gone as soon as unpublished.
    const endpoint = loc.endpointFor(site);
    const cluster = new Cluster({ containers: [ctr] });
    const again = `again-${site}`;
    await endpoint.publish(cluster, again);
    expect(await statuses(port, lastGet(again))).to.deep.equal([200]);
    await endpoint.unpublish(cluster);
    expect(await statuses(port, lastGet(again)), 'gone as soon as unpublished').to.deep.equal([404]);
  });

  it('replaces a worker that dies, and keeps serving', async () => {
    const [victim, other] = server!.frontDoorWorkerPids;
    process.kill(victim, 'SIGKILL');
    // No event says a worker is back (it is an internal process): look, bounded.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(server!.frontDoorWorkerPids.length === 2 && !server!.frontDoorWorkerPids.includes(victim))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const now = server!.frontDoorWorkerPids;
    expect(now).to.have.length(2).and.to.include(other).and.not.include(victim);
    const runs = await Promise.all(Array.from({ length: 4 }, () => statuses(port, get(site).repeat(9) + lastGet(site))));
    for (const codes of runs) expect(codes).to.deep.equal(Array(10).fill(200));
  });

  it('ends its workers when the location closes', async () => {
    const pids = server!.frontDoorWorkerPids;
    await loc.disconnect();
    await server!.close();
    server = undefined;
    expect(pids.filter(alive), 'workers still running').to.deep.equal([]);
  });
});
