import { expect } from 'chai';
import http from 'node:http';
import https from 'node:https';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { firstValueFrom } from 'rxjs';
import { exited } from '../support/processes';
import { createInterface } from 'node:readline';
import { BadRequest, Cluster, ContainerNotFound, DomainInUse, Location, NotFound, type Container, type Node } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';

const run = promisify(execFile);

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET through the front door on the loopback, asking for host name `host`. */
function get(port: number, host: string, agent: http.Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** busybox nc on port 80: prints each request it receives, answers it with `answer`. */
async function echoServer(node: Node, answer: string): Promise<Container> {
  const echo = node.spawnContainer('busybox', {
    command: ['sh', '-c', `while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\n${answer}\\n" | nc -l -p 80; done`],
  });
  await echo.waitTcp(80);
  return echo;
}

/** The container's output from now until it contains `marker`. */
function outputUntil(c: Container, marker: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const sub = c.stdout$.subscribe((chunk) => {
      text += chunk.data.toString();
      if (text.includes(marker)) {
        sub.unsubscribe();
        resolve(text);
      }
    });
  });
}

/** An nginx whose page says `page`. */
function nginx(node: Node, page: string): Container {
  return node.spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `${page}\n`]] });
}

describe('web endpoints: front door, clusters, load balancing, TLS (real location, real nginx)', function () {
  this.timeout(180_000);
  let server: LocationServer;
  let loc: Location;
  let port: number;
  const name = (what: string) => `${what}-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}.localhost`;

  before(async () => {
    server = await LocationServer.start({ name: `spec-web-${nanoid(6)}`, port: 0 });
    loc = await Location.connect({ location: server.url, quiet: true });
    port = loc.endpointFor('anything.localhost').httpPort;
  });
  after(async () => {
    await loc?.disconnect();
    await server?.close();
  });

  it('offers the location\'s domain with its front door ports; endpointFor picks it or says there is none', () => {
    const endpoint = loc.endpointFor('www.LOCALHOST.');
    expect(endpoint.domain).to.equal('localhost');
    expect(endpoint.httpPort).to.equal(server.endpoints[0].httpPort).and.to.be.above(0);
    expect(endpoint.url('www.localhost')).to.equal(`http://www.localhost:${endpoint.httpPort}/`);
    expect(() => loc.endpointFor('www.example.com')).to.throw(NotFound, /serves no domain for www.example.com.*localhost/);
  });

  it('balances requests over three nginx containers, each serving its own page', async () => {
    const node = loc.node();
    const servers = ['one', 'two', 'three'].map((page) => nginx(node, page));
    await Promise.all(servers.map((s) => s.waitHttp200()));
    const fqdn = name('lb');
    const cluster = new Cluster({ containers: servers });
    await loc.endpointFor(fqdn).publish(cluster, fqdn);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const answer = await get(port, fqdn);
      expect(answer.status).to.equal(200);
      counts[answer.body.trim()] = (counts[answer.body.trim()] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).to.deep.equal(['one', 'three', 'two']);
    for (const n of Object.values(counts)) expect(n, JSON.stringify(counts)).to.be.at.least(5);

    // A member that stopped takes no requests; the others answer every one.
    await servers[0].runProcess('nginx -s stop').catch(() => undefined);
    await firstValueFrom(servers[0].termination$).catch(() => undefined);
    for (let i = 0; i < 10; i++) {
      const answer = await get(port, fqdn);
      expect(answer.status).to.equal(200);
      expect(answer.body.trim()).to.be.oneOf(['two', 'three']);
    }
    await loc.endpointFor(fqdn).unpublish(cluster);
    expect((await get(port, fqdn)).status, 'unpublished').to.equal(404);
    await Promise.all(servers.map((s) => s.node.destroyContainer(s)));
  });

  it('changes membership while a bounded request loop runs, without one failed request', async () => {
    const node = loc.node();
    const first = nginx(node, 'first');
    await first.waitHttp200();
    const fqdn = name('scale');
    const cluster = new Cluster({ containers: [first] });
    await loc.endpointFor(fqdn).publish(cluster, fqdn);

    const agent = new http.Agent({ keepAlive: true });
    const seen: string[] = [];
    const failures: string[] = [];
    let stop = false;
    const deadline = Date.now() + 90_000;
    const worker = async () => {
      for (let i = 0; i < 5000 && !stop && Date.now() < deadline; i++) {
        try {
          const answer = await get(port, fqdn, agent);
          if (answer.status === 200) seen.push(answer.body.trim());
          else failures.push(`${answer.status} ${answer.body.trim()}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    const until = async (done: () => boolean) => {
      while (!done() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    };

    // Scale out: two more join (they are added before nginx listens; the front door moves on).
    const added = [nginx(node, 'second'), nginx(node, 'third')];
    for (const c of added) await cluster.addContainer(c);
    await until(() => seen.includes('second') && seen.includes('third'));
    // Scale in: the first leaves, then is destroyed.
    await cluster.removeContainer(first);
    const mark = seen.length;
    await first.node.destroyContainer(first);
    await until(() => seen.length > mark + 200);
    stop = true;
    await Promise.all(workers);
    agent.destroy();

    expect(failures, failures.slice(0, 5).join('; ')).to.deep.equal([]);
    expect(seen.length).to.be.above(200);
    expect(new Set(seen)).to.have.keys('first', 'second', 'third');
    expect(seen.slice(mark + 20), 'no request reaches a removed member').to.not.include('first');
    expect(cluster.containers.map((c) => c.id)).to.have.members(added.map((c) => c.id));
    await loc.endpointFor(fqdn).unpublish(cluster);
    await Promise.all(added.map((c) => c.node.destroyContainer(c)));
  });

  it('serves HTTPS with the certificate given, verified by a real TLS client; HTTP redirects', async () => {
    const fqdn = name('secure');
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-tls-'));
    try {
      await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', `/CN=${fqdn}`, '-addext', `subjectAltName=DNS:${fqdn}`,
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
      const [cert, key] = ['cert.pem', 'key.pem'].map((f) => readFileSync(join(dir, f), 'utf8'));
      const web = nginx(loc.node(), 'secret');
      await web.waitHttp200();
      const endpoint = loc.endpointFor(fqdn);
      const cluster = new Cluster({ containers: [web] });
      await endpoint.publish(cluster, fqdn, { ssl: [cert, key] });

      const body = await new Promise<string>((resolve, reject) => {
        // Verified against the spec's certificate, for the name asked for: a real TLS handshake.
        const req = https.request({ host: '127.0.0.1', port: endpoint.httpsPort, servername: fqdn, headers: { host: fqdn }, ca: cert, path: '/' }, (res) => {
          expect(res.statusCode).to.equal(200);
          expect((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN).to.equal(fqdn);
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body.trim()).to.equal('secret');

      const plain = await get(port, fqdn);
      expect(plain.status).to.equal(301);
      expect(plain.headers.location).to.equal(`https://${fqdn}:${endpoint.httpsPort}/`);

      // A name without a certificate gets no TLS session at all.
      const refused = await new Promise<Error>((resolve) => {
        const req = https.request({ host: '127.0.0.1', port: endpoint.httpsPort, servername: name('other'), ca: cert }, () => resolve(new Error('answered')));
        req.on('error', resolve);
        req.end();
      });
      expect(refused.message).to.not.equal('answered');
      await endpoint.unpublish(cluster);
      await web.node.destroyContainer(web);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rewrites the Host header for the containers and says who asked (X-Forwarded-*)', async () => {
    const echo = await echoServer(loc.node(), 'ok');
    const fqdn = name('rewrite');
    const cluster = new Cluster({ containers: [echo], rewrite: 'internal.example' });
    const request = outputUntil(echo, '\r\n\r\n');
    await loc.endpointFor(fqdn).publish(cluster, fqdn);
    expect((await get(port, fqdn)).body.trim()).to.equal('ok');
    const seen = await request;
    expect(seen).to.match(/^host: internal\.example\r$/im);
    expect(seen).to.match(/^x-forwarded-host: rewrite-[^\r]*\.localhost\r$/im);
    expect(seen).to.match(/^x-forwarded-for: 127\.0\.0\.1\r$/im);
    await echo.node.destroyContainer(echo);
  });

  it('carries a large answer to the client whole, the container paced by the client', async () => {
    // 4 MiB from busybox httpd: far past a socket's buffer, so the door pauses and resumes the container.
    const size = 4 * 1024 * 1024;
    const big = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', `mkdir -p /www && yes 0123456789abcdef | head -c ${size} > /www/big && exec httpd -f -p 80 -h /www`],
    });
    await big.waitTcp(80);
    const fqdn = name('big');
    await loc.endpointFor(fqdn).publish(new Cluster({ containers: [big] }), fqdn);
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/big', headers: { host: fqdn }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    const expected = Buffer.from('0123456789abcdef\n'.repeat(Math.ceil(size / 17))).subarray(0, size);
    expect(body.length).to.equal(size);
    expect(createHash('sha256').update(body).digest('hex')).to.equal(createHash('sha256').update(expected).digest('hex'));
    await big.node.destroyContainer(big);
  });

  it('keeps trying a member that refuses for a few seconds, then answers 502 saying why, without piling up listeners', async () => {
    // Nothing listens on port 80 in this container: every attempt is refused.
    const mute = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await mute.ready();
    const fqdn = name('mute');
    await loc.endpointFor(fqdn).publish(new Cluster({ containers: [mute] }), fqdn);
    // The location runs in this process: a listener added per attempt would warn here.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const started = Date.now();
      const answer = await get(port, fqdn);
      expect(answer.status).to.equal(502);
      expect(answer.body).to.match(/^container \w+ of mute-\S+ failed: ECONNREFUSED/);
      expect(Date.now() - started).to.be.greaterThan(500); // it did wait for the member, a few times
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('MaxListeners'))).to.deep.equal([]);
    await mute.node.destroyContainer(mute);
  });

  it('carries a request body to the container whole', async () => {
    // busybox httpd runs a CGI script that reads the body and answers its length and sha256.
    const script = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nhead -c "$CONTENT_LENGTH" > /tmp/body\n' +
      'printf "%s %s %s\\n" "$REQUEST_METHOD" "$(wc -c < /tmp/body)" "$(sha256sum /tmp/body | cut -d" " -f1)"\n';
    const cgi = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'mkdir -p /www/cgi-bin && cp /echo /www/cgi-bin/echo && chmod +x /www/cgi-bin/echo && exec httpd -f -p 80 -h /www'],
      preBootFiles: [['/echo', script]],
    });
    await cgi.waitTcp(80);
    const fqdn = name('post');
    await loc.endpointFor(fqdn).publish(new Cluster({ containers: [cgi] }), fqdn);
    const body = Buffer.from(`${'x'.repeat(100_000)}END`);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/cgi-bin/echo', headers: { host: fqdn, 'content-type': 'text/plain' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${text.trim()}`));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer).to.equal(`200 POST ${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    await cgi.node.destroyContainer(cgi);
  });

  it('routes by name only, and says so for addresses and unknown names', async () => {
    const byIp = await get(port, '127.0.0.1');
    expect(byIp.status).to.equal(421);
    expect(byIp.body).to.match(/routes by host name/);
    const unknown = await get(port, 'nobody.localhost');
    expect(unknown.status).to.equal(404);
    expect(unknown.body).to.match(/no site is published at nobody.localhost/);
  });

  it('rejects bad publications with typed errors and keeps serving what works', async () => {
    const web = nginx(loc.node(), 'steady');
    await web.waitHttp200();
    const fqdn = name('steady');
    const cluster = new Cluster({ containers: [web] });
    await loc.endpointFor(fqdn).publish(cluster, fqdn);

    const other = await Location.connect({ location: server.url, quiet: true });
    try {
      const rival = nginx(other.node(), 'rival');
      await rival.ready();
      const err = await other.endpointFor(fqdn).publish(new Cluster({ containers: [rival] }), fqdn).catch((e: Error) => e);
      expect(err).to.be.instanceOf(DomainInUse);
      expect((err as Error).message).to.match(/already published by another session/);
      // Another session's containers are not ours to publish.
      const foreign = await other.endpointFor(fqdn).publish(new Cluster({ containers: [web] }), name('foreign')).catch((e: Error) => e);
      expect(foreign).to.be.instanceOf(ContainerNotFound);
      const badCert = await other.endpointFor(fqdn).publish(new Cluster({ containers: [rival] }), name('cert'), { ssl: ['not a certificate', 'nor a key'] }).catch((e: Error) => e);
      expect(badCert).to.be.instanceOf(BadRequest);
      expect((badCert as Error).message).to.match(/not a PEM certificate/);
      const already = await loc.endpointFor(fqdn).publish(cluster, name('twice')).catch((e: Error) => e);
      expect(already).to.be.instanceOf(BadRequest);
      expect((already as Error).message).to.match(/already published at/);
    } finally {
      await other.disconnect();
    }
    expect((await get(port, fqdn)).body.trim(), 'the first site still answers').to.equal('steady');
    await web.node.destroyContainer(web);
  });

  it('collects a session\'s sites when the session ends', async () => {
    const other = await Location.connect({ location: server.url, quiet: true });
    const web = nginx(other.node(), 'short-lived');
    await web.waitHttp200();
    const fqdn = name('gc');
    await other.endpointFor(fqdn).publish(new Cluster({ containers: [web] }), fqdn);
    expect((await get(port, fqdn)).body.trim()).to.equal('short-lived');
    await other.disconnect();
    expect((await get(port, fqdn)).status).to.equal(404);
    // The name is free again, for anyone.
    const again = nginx(loc.node(), 'again');
    await again.waitHttp200();
    await loc.endpointFor(fqdn).publish(new Cluster({ containers: [again] }), fqdn);
    expect((await get(port, fqdn)).body.trim()).to.equal('again');
    await again.node.destroyContainer(again);
  });

  it('tfnz run -w publishes the container at a name until Ctrl-C', async () => {
    const fqdn = name('cli');
    const cli = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'run', '-w', fqdn, '--location', server.url, '-q', 'nginx'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const published = await new Promise<string>((resolve, reject) => {
        createInterface({ input: cli.stderr! }).on('line', (line) => line.includes('published at') && resolve(line));
        cli.once('exit', (code) => reject(new Error(`tfnz run exited (${code}) before publishing`)));
      });
      expect(published).to.equal(`tfnz: published at http://${fqdn}:${port}/`);
      await loc.endpointFor(fqdn).waitHttp200(fqdn);
      expect((await get(port, fqdn)).body).to.contain('Welcome to nginx!');
      cli.kill('SIGINT');
      await exited(cli);
      expect((await get(port, fqdn)).status, 'gone with its session').to.equal(404);
    } finally {
      cli.kill('SIGKILL');
    }
  });
});
