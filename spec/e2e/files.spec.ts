import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { lastValueFrom, toArray } from 'rxjs';
import { BadRequest, FileNotFound, Location, lines, type Container } from '../../lib/index';
import { sha256 } from '../support/net';

describe('files: pre-boot, put and fetch (real location, real Docker Engine)', function () {
  this.timeout(120_000);
  let loc: Location;
  let box: Container;

  before(async () => {
    loc = await Location.connect({ quiet: true });
    box = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await box.ready();
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('has pre-boot files in place before the first process runs, text and binary', async () => {
    const blob = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'cat /etc/tfnz/greeting; echo; sha256sum /opt/blob.bin'],
      preBootFiles: [['/etc/tfnz/greeting', 'kia ora'], ['/opt/blob.bin', blob]],
    });
    const out = await lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
    expect(out[0]).to.equal('kia ora');
    expect(out[1]).to.equal(`${sha256(blob)}  /opt/blob.bin`);
    expect(await ctr.fetch('/opt/blob.bin')).to.deep.equal(blob);
  });

  it('rejects malformed pre-boot files at once', () => {
    const node = loc.node();
    expect(() => node.spawnContainer('busybox', { preBootFiles: ['/etc/x'] as unknown as [string, string][] })).to.throw(BadRequest, /preBootFiles/);
    expect(() => node.spawnContainer('busybox', { preBootFiles: [['etc/relative', 'x']] })).to.throw(BadRequest, /absolute/);
    expect(() => node.spawnContainer('busybox', { preBootFiles: [['/etc/x', 42 as unknown as string]] })).to.throw(BadRequest);
  });

  it('round-trips every byte value, creating parent folders', async () => {
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(3 * 1024 * 1024 + 17)]);
    await box.put('/new/nested/folders/data.bin', data);
    const back = await box.fetch('/new/nested/folders/data.bin');
    expect(back.length).to.equal(data.length);
    expect(back.equals(data)).to.equal(true);
    // The container sees the same bytes.
    const inside = await box.runProcess('sha256sum /new/nested/folders/data.bin');
    expect(inside.stdout.toString().split(' ')[0]).to.equal(sha256(data));
  });

  it('overwrites, takes strings as UTF-8, and handles empty files', async () => {
    await box.put('/tmp/note.txt', 'a much longer first version of the note');
    await box.put('/tmp/note.txt', 'tēnā koe');
    expect((await box.fetch('/tmp/note.txt')).toString('utf8')).to.equal('tēnā koe');
    await box.put('/tmp/empty', new Uint8Array(0));
    expect((await box.fetch('/tmp/empty')).length).to.equal(0);
    expect((await box.runProcess('cat /tmp/note.txt')).stdout.toString()).to.equal('tēnā koe');
  });

  it('moves 100 MB each way byte-exact', async function () {
    this.timeout(240_000);
    const data = randomBytes(100 * 1024 * 1024);
    await box.put('/data/big.bin', data);
    const inside = await box.runProcess('sha256sum /data/big.bin');
    expect(inside.stdout.toString().split(' ')[0]).to.equal(sha256(data));
    const back = await box.fetch('/data/big.bin');
    expect(back.length).to.equal(data.length);
    expect(sha256(back)).to.equal(sha256(data));
    await box.runProcess('rm /data/big.bin');
  });

  it('keeps control messages flowing during a large transfer', async () => {
    const transfer = box.put('/data/big2.bin', randomBytes(60 * 1024 * 1024));
    const quick = await box.runProcess('echo still here');
    expect(quick.stdout.toString()).to.equal('still here\n');
    await transfer;
    await box.runProcess('rm /data/big2.bin');
  });

  it('follows symbolic links when fetching', async () => {
    await box.put('/srv/real.txt', 'through the link');
    await box.runProcess('ln -s /srv/real.txt /srv/link.txt; ln -s real.txt /srv/relative.txt');
    expect((await box.fetch('/srv/link.txt')).toString()).to.equal('through the link');
    expect((await box.fetch('/srv/relative.txt')).toString()).to.equal('through the link');
  });

  it('reports a missing path, a folder or a relative path as typed errors', async () => {
    const missing = await box.fetch('/no/such/file').then(() => null, (e: Error) => e);
    expect(missing).to.be.instanceOf(FileNotFound).with.property('message').that.contains('/no/such/file');
    const folder = await box.fetch('/etc').then(() => null, (e: Error) => e);
    expect(folder).to.be.instanceOf(FileNotFound).with.property('message').that.contains('directory');
    const relative = await box.put('../escape.txt', 'x').then(() => null, (e: Error) => e);
    expect(relative).to.be.instanceOf(BadRequest).with.property('message').that.contains('absolute');
    // Putting onto a folder (or below a file) is refused and leaves the folder alone.
    const onFolder = await box.put('/etc', 'x').then(() => null, (e: Error) => e);
    expect(onFolder).to.be.instanceOf(BadRequest).with.property('message').that.contains('folder');
    const belowFile = await box.put('/etc/passwd/sub', 'x').then(() => null, (e: Error) => e);
    expect(belowFile).to.be.instanceOf(BadRequest);
    expect((await box.fetch('/etc/passwd')).toString()).to.contain('root:');
    // '..' cannot climb out of the container's root.
    await box.put('/../../rooted.txt', 'inside');
    expect((await box.fetch('/rooted.txt')).toString()).to.equal('inside');
  });

  it('works on nginx too (Debian)', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    const conf = await nginx.fetch('/etc/nginx/sites-enabled/default');
    expect(conf.toString()).to.contain('root /var/www/html');
    await loc.node().destroyContainer(nginx);
  });
});
