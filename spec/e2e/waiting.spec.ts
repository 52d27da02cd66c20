import { expect } from 'chai';
import { ConnectFailed, Location } from '../../lib/index';
import { httpGet } from '../support/net';

describe('waiting for services in containers (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let loc: Location;

  before(async () => {
    loc = await Location.connect({ quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('waitTcp resolves once a port opens, even when it opens late', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'sleep 1; exec nc -ll -p 7000 -e true'] });
    const started = Date.now();
    await ctr.waitTcp(7000);
    expect(Date.now() - started).to.be.greaterThan(500);
    expect((await ctr.runProcess('netstat -ltn')).stdout.toString()).to.contain(':7000');
  });

  it('waitTcp rejects with ConnectFailed at its timeout', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    const err = await ctr.waitTcp(7001, { timeout: 1 }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(ConnectFailed).with.property('message').that.contains('port 7001').and.contains('1s');
  });

  it('waitHttp200 resolves when nginx serves the page', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    await nginx.waitHttp200();
    const tunnel = await nginx.attachTunnel(80);
    expect((await httpGet(tunnel.localPort)).status).to.equal(200);
  });

  it('waitHttp200 sends the fqdn as Host and the path', async () => {
    // busybox httpd serving /www; the page appears a moment after boot.
    const web = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'mkdir -p /www; httpd -f -p 8080 -h /www & sleep 1; echo ok > /www/ready.txt; wait'],
    });
    await web.waitHttp200({ port: 8080, fqdn: 'app.example.test', path: '/ready.txt' });
    expect((await web.fetch('/www/ready.txt')).toString()).to.equal('ok\n');
  });

  it('waitHttp200 rejects with ConnectFailed, naming the last status, at its timeout', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    const err = await nginx.waitHttp200({ path: '/missing.html', timeout: 2 }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(ConnectFailed).with.property('message').that.contains('/missing.html').and.contains('404');
  });
});
