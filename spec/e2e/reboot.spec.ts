import { expect } from 'chai';
import { filter, firstValueFrom, toArray, take } from 'rxjs';
import { FileNotFound, Location } from '../../lib/index';
import { httpGet } from '../support/net';

describe('reboot (real location, real Docker Engine)', function () {
  this.timeout(90_000);
  let loc: Location;

  before(async () => {
    loc = await Location.connect({ quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('restarts in place and keeps the file system; status$ shows the transition', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'echo booted; exec sleep 3600'] });
    await ctr.ready();
    await ctr.put('/data/kept.txt', 'still here');
    const id = ctr.id;
    const transitions = firstValueFrom(ctr.status$.pipe(take(3), toArray()));
    const boots = firstValueFrom(ctr.stdout$.pipe(filter((c) => c.data.toString().includes('booted')), take(1)));
    const p = ctr.spawnProcess('sleep 1000');
    await p.started;
    await ctr.reboot();
    expect(await transitions).to.deep.equal(['running', 'spawning', 'running']);
    expect(ctr.status).to.equal('running');
    expect(ctr.id).to.equal(id);
    expect((await ctr.fetch('/data/kept.txt')).toString()).to.equal('still here');
    // Its processes ended with the old boot; the main process ran again.
    expect(await p.wait()).to.equal(137);
    await boots;
    expect((await ctr.runProcess('echo alive')).stdout.toString()).to.equal('alive\n');
  });

  it('with resetFilesystem, returns to the image plus pre-boot files, and the same tunnel serves it', async () => {
    const nginx = loc.node().spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', 'Hello World!']] });
    const tunnel = await nginx.attachTunnel(80);
    await nginx.waitHttp200();
    expect((await httpGet(tunnel.localPort)).body).to.equal('Hello World!');
    await nginx.put('/var/www/html/index.html', 'Smeg');
    await nginx.put('/tmp/scratch.txt', 'temporary');
    expect((await httpGet(tunnel.localPort)).body).to.equal('Smeg');
    await nginx.reboot({ resetFilesystem: true });
    await nginx.waitHttp200();
    expect((await httpGet(tunnel.localPort)).body).to.equal('Hello World!');
    const gone = await nginx.fetch('/tmp/scratch.txt').then(() => null, (e: Error) => e);
    expect(gone).to.be.instanceOf(FileNotFound);
    expect(nginx.allTunnels()).to.deep.equal([tunnel]);
  });

  it('reboots a woken sleeper straight into its real command', async () => {
    const ctr = loc.node().spawnContainer('busybox', { sleep: true, command: ['sh', '-c', 'echo real > /tmp/ran; exec sleep 3600'] });
    await ctr.ready();
    await ctr.start();
    await ctr.reboot({ resetFilesystem: true });
    expect(ctr.info.sleeping).to.equal(false);
    expect((await ctr.runProcess('cat /tmp/ran')).stdout.toString()).to.equal('real\n');
  });

  it('can reboot a container whose main process exited', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'date +%N >> /runs; exit 2'] });
    expect(await firstValueFrom(ctr.termination$)).to.equal(2);
    await ctr.reboot();
    // It runs (and exits) again, with the file from the first run kept.
    await firstValueFrom(ctr.status$.pipe(filter((s) => s === 'exited')));
    expect((await ctr.fetch('/runs')).toString().trim().split('\n')).to.have.length(2);
  });
});
