/**
 * Issue 13, findings 3, 4, 8 and 9, and the last-resort guard: each attack runs against a real
 * location in its own process, while a bystander session (another user) must keep working.
 */
import { expect } from 'chai';
import http from 'node:http';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { createHash } from 'node:crypto';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { Cluster, Location, QuotaExceeded, type Container } from '../../lib/index';
import { encodeFrame, type EventFrame } from '../../lib/protocol';
import { startLocationProcess, stopProcess } from '../support/processes';
import { eventually } from '../support/docker';
import { attacker, bystander, closeOf, message, openedAttacker, stillServes, type Bystander } from '../support/bystander';

const MiB = 1024 * 1024;
const run = promisify(execFile);

/** A request frame of `count` empty msgpack maps in one array: cheap to send, costly to decode. */
function emptyMaps(count: number): Buffer {
  const head = Buffer.from([0x94, 0x00, 0x01, 0xac, ...Buffer.from('open_session'), 0xdd, 0, 0, 0, 0]);
  head.writeUInt32BE(count, head.length - 4);
  return Buffer.concat([head, Buffer.alloc(count, 0x80)]);
}

/** The container's cgroup limits and whether it holds NET_RAW, read from inside it. */
async function limitsInside(ctr: Container): Promise<{ pids: string; memory: string; cpuQuota: string; netRaw: boolean }> {
  const read = async (v2: string, v1: string) => (await ctr.runProcess(`cat /sys/fs/cgroup/${v2} 2>/dev/null || cat /sys/fs/cgroup/${v1}`)).stdout.toString().trim();
  const capEff = (await ctr.runProcess("grep CapEff /proc/self/status | cut -f2")).stdout.toString().trim();
  return {
    pids: await read('pids.max', 'pids/pids.max'),
    memory: await read('memory.max', 'memory/memory.limit_in_bytes'),
    cpuQuota: (await read('cpu.max', 'cpu/cpu.cfs_quota_us')).split(' ')[0],
    netRaw: (BigInt(`0x${capEff}`) & (1n << 13n)) !== 0n,
  };
}

describe('limits: a location no client can stall, flood or take down (issue 13)', function () {
  this.timeout(120_000);

  describe('a location with small limits', () => {
    let location: { child: ChildProcess; url: string };
    let by: Bystander;

    before(async () => {
      location = await startLocationProcess(`spec-limits-${nanoid(6)}`, [
        '--open-deadline-ms', '1500', '--unauthenticated-sockets', '4', '--connections-per-address', '10',
        '--queued-bytes', '1M', '--sessions-per-user', '3', '--containers-per-user', '3', '--volumes-per-user', '1',
        '--tunnels-per-user', '1', '--names-per-user', '1', '--upload-bytes-per-user', '100M', '--transfer-bytes', '64M',
        '--container-pids', '300', '--container-memory-bytes', '256M', '--container-cpus', '0.5',
      ]);
      by = await bystander(location.url);
    });
    after(async () => {
      await by?.loc.disconnect();
      await stopProcess(location?.child);
    });

    it('refuses a large frame before open_session without decoding it (finding 3)', async () => {
      const raw = await attacker(location.url);
      const closed = closeOf(raw.ws);
      const started = Date.now();
      // 16 M empty maps: before the cap, decoding this stalled the event loop for seconds.
      raw.send(emptyMaps(16 * MiB));
      expect((await closed).code, '1009: message too big').to.equal(1009);
      expect(Date.now() - started).to.be.below(3000);
      await stillServes(by);
    });

    it('closes a socket that does not open a session in time (finding 3)', async () => {
      const raw = await attacker(location.url);
      const started = Date.now();
      const closed = await closeOf(raw.ws);
      expect(closed.code).to.equal(1008);
      expect(closed.reason).to.match(/open_session/);
      expect(Date.now() - started).to.be.within(1200, 6000);
    });

    it('caps sockets waiting to open a session, and sockets per address (finding 3)', async () => {
      const waiting = await Promise.all([1, 2, 3, 4].map(() => attacker(location.url)));
      const fifth = await attacker(location.url);
      const refused = await closeOf(fifth.ws);
      expect(refused.code, '1013: try again later').to.equal(1013);
      expect(refused.reason).to.match(/waiting to open a session/);
      // Once they open sessions they no longer wait; from one address the per-address cap holds.
      for (const [i, raw] of waiting.entries()) expect((await raw.request('open_session', { client: 'spec', user: `many${i}` })).error).to.equal(undefined);
      const more = [];
      for (let i = 0; i < 5; i++) more.push(await openedAttacker(location.url, `more${i}`)); // bystander + 4 + 5 = 10
      const eleventh = await attacker(location.url);
      const perAddress = await closeOf(eleventh.ws);
      expect(perAddress.code).to.equal(1013);
      expect(perAddress.reason).to.match(/too many connections from .*connections-per-address/);
      await Promise.all([...waiting, ...more].map((raw) => {
        const closed = closeOf(raw.ws);
        raw.ws.close();
        return closed;
      }));
      await stillServes(by);
    });

    it('takes large frames once the session is open, and never echoes them back whole (findings 3, 4)', async () => {
      const raw = await openedAttacker(location.url);
      const reply = await raw.request('x'.repeat(MiB), {});
      expect(reply.error?.code).to.equal('UNKNOWN_COMMAND');
      expect(reply.error!.message.length).to.be.below(1200);
      raw.ws.close();
    });

    it('drops a client that does not read instead of queueing for it without end (finding 4)', async () => {
      const raw = await openedAttacker(location.url);
      const closed = closeOf(raw.ws);
      raw.ws.pause(); // read nothing more
      // 40 000 requests, each answered with an error of about 1 KB: 40 MB if the location queued them.
      const name = 'y'.repeat(900);
      for (let id = 1; id <= 40_000; id++) raw.send(encodeFrame({ kind: 'request', id, command: name, params: {} }));
      const cut = await Promise.race([closed, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 20_000))]);
      expect(cut, 'the location dropped the socket').to.not.equal('still open');
      await stillServes(by);
    });

    it('holds uploads to the credit window and to a sane size (finding 4)', async () => {
      const raw = await openedAttacker(location.url);
      const layer = `sha256:${'ab'.repeat(32)}`;
      const huge = await raw.request('upload_layer', { transfer: 'hugeupload1', layer, size: 2 ** 52 });
      expect(huge.error?.code).to.equal('QUOTA_EXCEEDED');
      expect(huge.error?.message).to.match(/--transfer-bytes/);
      expect((await raw.request('upload_layer', { transfer: 'flooding01', layer, size: 32 * MiB })).error).to.equal(undefined);
      // 9 MiB in one go, without waiting for any file_ack: more than the 8 MiB window allows.
      raw.send(message('file_data', { transfer: 'flooding01' }, Buffer.alloc(9 * MiB, 1)));
      const end = (await raw.next((f) => f.kind === 'event' && f.event === 'file_end')) as EventFrame;
      const error = (end.params as { error?: { code: string; message: string } }).error;
      expect(error?.code).to.equal('BAD_REQUEST');
      expect(error?.message).to.match(/window/);
      raw.ws.close();
      await stillServes(by);
    });

    it('writes no image config for layers that never arrived (finding 4)', async () => {
      const raw = await openedAttacker(location.url);
      const layers = [`sha256:${'cd'.repeat(32)}`];
      const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: layers } }));
      const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      const put = await raw.request('put_image_description', { id, layers, name: 'ghost', config });
      expect(put.error?.code).to.equal('BAD_REQUEST');
      expect(put.error?.message).to.match(/upload them first/);
      const missing = await raw.request('image_layers_missing', { id, layers });
      expect((missing.result as { configMissing: boolean }).configMissing, 'no config was written').to.equal(true);
      raw.ws.close();
    });

    it('keeps sessions per user bounded: the oldest detached one gives way, else QuotaExceeded (finding 4)', async () => {
      const user = `crowd${nanoid(4)}`;
      const sessions = [await openedAttacker(location.url, user), await openedAttacker(location.url, user), await openedAttacker(location.url, user)];
      const fourth = await attacker(location.url);
      const refused = await fourth.request('open_session', { client: 'spec', user });
      expect(refused.error?.code).to.equal('QUOTA_EXCEEDED');
      expect(refused.error?.message).to.match(/--sessions-per-user/);
      // One client goes away without closing: its session waits to be resumed; a new one takes its place.
      const gone = sessions[0];
      const dropped = closeOf(gone.ws);
      gone.ws.terminate();
      await dropped;
      // The location notices the drop a moment after the client does.
      await eventually(async () => expect((await fourth.request('open_session', { client: 'spec', user })).error).to.equal(undefined));
      const resumer = await attacker(location.url);
      const resumed = await resumer.request('resume_session', { user, session: gone.session, lastSeq: 0 });
      expect(resumed.error?.code, 'the detached session was ended to make room').to.equal('SESSION_EXPIRED');
      for (const raw of [...sessions, fourth, resumer]) raw.ws.close();
      await stillServes(by);
    });

    it('gives containers the location\'s limits and no NET_RAW (finding 8)', async () => {
      expect(await limitsInside(by.ctr)).to.deep.equal({ pids: '300', memory: String(256 * MiB), cpuQuota: '50000', netRaw: false });
    });

    it('enforces per-user quotas with QuotaExceeded naming the option (finding 8)', async () => {
      // The bystander (user 'local') holds one container; its quota is 3.
      const loc = await Location.connect({ location: location.url, quiet: true });
      try {
        const two = [1, 2].map(() => loc.node().spawnContainer('busybox', { command: ['sleep', '600'] }));
        await Promise.all(two.map((c) => c.ready()));
        const third = await loc.node().spawnContainer('busybox', { command: ['sleep', '600'] }).ready().then(() => null, (e: Error) => e);
        expect(third).to.be.instanceOf(QuotaExceeded);
        expect(third!.message).to.match(/--containers-per-user/);
        await loc.createVolume();
        const volume = await loc.createVolume().then(() => null, (e: Error) => e);
        expect(volume).to.be.instanceOf(QuotaExceeded);
        expect(volume!.message).to.match(/--volumes-per-user/);
        await two[0].attachTunnel(80);
        const tunnel = await two[1].attachTunnel(80).then(() => null, (e: Error) => e);
        expect(tunnel).to.be.instanceOf(QuotaExceeded);
        const endpoint = loc.endpointFor('a.localhost');
        await endpoint.publish(new Cluster({ containers: [two[0]] }), `a-${nanoid(5).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`);
        const name = await endpoint.publish(new Cluster({ containers: [two[1]] }), `b-${nanoid(5).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`).then(() => null, (e: Error) => e);
        expect(name).to.be.instanceOf(QuotaExceeded);
        expect(name!.message).to.match(/--names-per-user/);
        for (const v of loc.allVolumes()) await loc.destroyVolume(v);
      } finally {
        await loc.disconnect();
      }
      await stillServes(by);
    });
  });

  describe('a location with default limits, the guard, and a front door with TLS sites', () => {
    let location: { child: ChildProcess; url: string };
    let by: Bystander;

    before(async () => {
      location = await startLocationProcess(`spec-guard-${nanoid(6)}`, [], 0, { env: { TFNZ_FAULT_INJECTION: '1' } });
      by = await bystander(location.url);
    });
    after(async () => {
      await by?.loc.disconnect();
      await stopProcess(location?.child);
    });

    it('gives containers 512 pids, 1 GiB and one CPU by default, without NET_RAW (finding 8)', async () => {
      expect(await limitsInside(by.ctr)).to.deep.equal({ pids: '512', memory: String(1024 * MiB), cpuQuota: '100000', netRaw: false });
    });

    for (const kind of ['throw', 'reject']) {
      it(`survives a fault (${kind}) no handler caught: only the session that caused it ends`, async () => {
        const raw = await openedAttacker(location.url);
        const closed = closeOf(raw.ws);
        expect((await raw.request('inject_fault', { kind })).error).to.equal(undefined);
        const error = (await raw.next((f) => f.kind === 'event' && f.event === 'error')) as EventFrame;
        expect((error.params as { error: { message: string } }).error.message).to.match(/internal fault.*injected fault/);
        expect((await closed).code).to.equal(1011);
        expect(location.child.exitCode, 'the location process is alive').to.equal(null);
        await stillServes(by);
      });
    }

    describe('front door (finding 9)', () => {
      let dir: string;
      let port: { http: number; https: number };
      const fqdn = (what: string) => `${what}-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;
      const sites: Record<'a' | 'b', { fqdn: string; cert: string }> = {} as never;

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'tfnz-limits-'));
        const endpoint = by.loc.endpointFor('x.localhost');
        port = { http: endpoint.httpPort, https: endpoint.httpsPort };
        for (const which of ['a', 'b'] as const) {
          const name = fqdn(which);
          await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
            '-keyout', join(dir, `${which}.key`), '-out', join(dir, `${which}.pem`)]);
          const [cert, key] = [`${which}.pem`, `${which}.key`].map((f) => readFileSync(join(dir, f), 'utf8'));
          const page = by.loc.node().spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `site ${which}\n`]] });
          await page.waitHttp200();
          await endpoint.publish(new Cluster({ containers: [page] }), name, { ssl: [cert, key] });
          sites[which] = { fqdn: name, cert };
        }
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      /** An HTTPS GET whose TLS name is `sni` and whose Host header is `host`. */
      const getTls = (sni: string, host: string, ca: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: port.https, servername: sni, headers: { host }, ca, path: '/', agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
        req.on('error', reject).end();
      });

      /** What the front door answers to a raw request, up to its first blank line. */
      const rawHead = (request: string, secure?: { sni: string; ca: string }) => new Promise<string>((resolve, reject) => {
        const socket = secure
          ? tlsConnect({ host: '127.0.0.1', port: port.https, servername: secure.sni, ca: secure.ca })
          : tcpConnect({ host: '127.0.0.1', port: port.http });
        let got = '';
        socket.on(secure ? 'secureConnect' : 'connect', () => socket.write(request));
        socket.on('data', (c: Buffer) => {
          got += c.toString('latin1');
          if (got.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(got.slice(0, got.indexOf('\r\n\r\n')));
          }
        });
        socket.on('error', reject);
        socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer in 10 s (got: ${JSON.stringify(got)})`)));
      });

      it('serves each site over its own certificate, and refuses a Host other than the TLS name with 421', async () => {
        expect(await getTls(sites.a.fqdn, sites.a.fqdn, sites.a.cert)).to.deep.equal({ status: 200, body: 'site a\n' });
        const crossed = await getTls(sites.a.fqdn, sites.b.fqdn, sites.a.cert);
        expect(crossed.status).to.equal(421);
        expect(crossed.body).to.not.contain('site b');
      });

      it('redirects a WebSocket upgrade on plain HTTP to a TLS site instead of piping it', async () => {
        const head = await rawHead(`GET /chat HTTP/1.1\r\nHost: ${sites.a.fqdn}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
        expect(head).to.match(/^HTTP\/1.1 301/);
        expect(head).to.contain(`location: https://${sites.a.fqdn}:${port.https}/chat`);
      });

      it('does not turn Upgrade: h2c into a raw pipe', async () => {
        const head = await rawHead(`GET / HTTP/1.1\r\nHost: ${sites.a.fqdn}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`, { sni: sites.a.fqdn, ca: sites.a.cert });
        expect(head).to.match(/^HTTP\/1.1 400/);
      });

      it('answers 502 at once when a container switches protocols on a plain request', async () => {
        const host = fqdn('switch');
        const switcher = by.loc.node().spawnContainer('busybox', {
          command: ['sh', '-c', 'while true; do printf "HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n" | nc -l -p 80; done'],
        });
        await switcher.waitTcp(80);
        await by.loc.endpointFor(host).publish(new Cluster({ containers: [switcher] }), host);
        const answer = await new Promise<number>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: port.http, path: '/', headers: { host }, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.setTimeout(10_000, () => req.destroy(new Error('the client hung: no answer in 10 s')));
          req.on('error', reject).end();
        });
        expect(answer).to.equal(502);
        await by.loc.node().destroyContainer(switcher);
        await stillServes(by);
      });
    });
  });
});
