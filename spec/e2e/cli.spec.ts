/** The `tfnz` command as a Docker user types it, against a real location. */
import { expect } from 'chai';
import { nanoid } from 'nanoid';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocationServer } from '../../lib/server/index';
import { Location } from '../../lib/client/location';
import { TFNZ, tfnz } from '../support/tfnz-cli';

describe('tfnz on the command line (real location, real Docker Engine)', function () {
  this.timeout(180_000); // each step is a tfnz process of its own (seconds each on a busy machine)
  let server: LocationServer;

  before(async () => {
    server = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0 });
  });
  const volumeTag = `cli-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  after(async () => {
    if (server) {
      const loc = await Location.connect({ location: server.url, quiet: true });
      for (const v of loc.allVolumes()) if (v.tag === volumeTag) await loc.destroyVolume(v);
      await loc.disconnect();
    }
    await server?.close();
  });

  it('run passes everything after the image to the command, options included, as docker run does', async () => {
    const { code, stdout, stderr } = await tfnz(['run', '-q', '--location', server.url, 'busybox', 'echo', '-l', '-p', '9000', '--location', 'x']);
    expect(stderr).to.equal('');
    expect(stdout).to.equal('-l -p 9000 --location x\n');
    expect(code).to.equal(0);
  });

  it("run ends with the command's exit code", async () => {
    const { code } = await tfnz(['run', '-q', '--location', server.url, 'busybox', 'sh', '-c', 'exit 3']);
    expect(code).to.equal(3);
  });

  it('run -f writes a local file before boot, -m mounts a volume that --create made and a later run finds', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tfnz-cli-')), 'greeting.txt');
    writeFileSync(file, 'hello from here\n');
    const first = await tfnz(['run', '-q', '--location', server.url, '-f', `${file}:/etc/greeting`, '-m', `${volumeTag}:/data`, '--create',
      'busybox', 'sh', '-c', 'cat /etc/greeting; echo kept > /data/x']);
    expect(first.stderr).to.equal('');
    expect(first.stdout).to.equal('hello from here\n');
    expect(first.code).to.equal(0);
    const second = await tfnz(['run', '-q', '--location', server.url, '-m', `${volumeTag}:/data`, 'busybox', 'cat', '/data/x']);
    expect(second.stdout).to.equal('kept\n');
  });

  it('run -m of a missing volume without --create, or a bad -f, is a tfnz error (exit 125) that says what to do', async () => {
    const missing = await tfnz(['run', '-q', '--location', server.url, '-m', 'no-such-volume:/data', 'busybox', 'true']);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.contain("no volume 'no-such-volume'");
    const badFile = await tfnz(['run', '-q', '--location', server.url, '-f', 'relative-dest.txt:etc/x', 'busybox', 'true']);
    expect(badFile.code).to.equal(125);
    expect(badFile.stderr).to.contain('-f wants SRC:DEST');
  });

  it('run -i feeds stdin to the command until it ends, and ends with its exit code', async () => {
    const { code, stdout } = await tfnz(['run', '-q', '-i', '--location', server.url, 'busybox', 'sh', '-c', 'cat; echo done; exit 4'], 'line one\nline two\n');
    expect(stdout).to.equal('line one\nline two\ndone\n');
    expect(code).to.equal(4);
  });

  it('run -it gives the command a terminal of this terminal\'s size, and follows a resize', async () => {
    const ptyRun = ['python3', 'spec/support/pty-run.py', '77', '11', 'first 11 77', '90', '20', '--', ...TFNZ];
    const { code, stdout } = await tfnz(['run', '-q', '-it', '--location', server.url, 'busybox', 'sh', '-c',
      'tty; echo first $(stty size); while [ "$(stty size)" = "11 77" ]; do usleep 50000; done; echo then $(stty size); exit 5'], undefined, ptyRun);
    const lines = stdout.replace(/\r/g, '').split('\n');
    expect(lines).to.include('first 11 77').and.include('then 20 90');
    expect(lines.some((l) => /^\/dev\/pts\/\d+$/.test(l))).to.equal(true);
    expect(code).to.equal(5);
  });

  it('volume create, ls, snapshot, rollback and rm; node ls and endpoint ls show the location', async () => {
    const tag = `${volumeTag}-v`;
    const at = ['--location', server.url];
    const created = await tfnz(['volume', 'create', tag, ...at]);
    expect(created.stdout).to.match(new RegExp(`^[A-Za-z0-9_-]+:${tag}\n$`));
    const id = created.stdout.split(':')[0];
    const [json, quiet, nodes, endpoints] = await Promise.all([
      tfnz(['volume', 'ls', '--json', ...at]), tfnz(['volume', 'ls', '-q', ...at]), tfnz(['node', 'ls', '--json', ...at]), tfnz(['endpoint', 'ls', ...at]),
    ]);
    expect(JSON.parse(json.stdout)).to.deep.include({ id, tag, node: (JSON.parse(nodes.stdout) as { id: string }[])[0].id });
    expect(quiet.stdout.split('\n')).to.include(id);
    const [node] = JSON.parse(nodes.stdout) as { alive: boolean; stats: { cpu: number; memory: number } }[];
    expect(node.alive).to.equal(true);
    expect(node.stats.memory, 'free memory, as last sampled').to.be.above(0);
    expect(endpoints.stdout).to.match(/^DOMAIN\s+HTTP PORT\s+HTTPS PORT\nlocalhost\s+\d+\s+\d+\n$/);

    expect((await tfnz(['run', '-q', ...at, '-m', `${tag}:/data`, 'busybox', 'sh', '-c', 'echo one > /data/f'])).code).to.equal(0);
    expect((await tfnz(['volume', 'snapshot', tag, ...at])).code).to.equal(0);
    expect((await tfnz(['run', '-q', ...at, '-m', `${tag}:/data`, 'busybox', 'sh', '-c', 'echo two > /data/f'])).code).to.equal(0);
    expect((await tfnz(['volume', 'rollback', tag, ...at])).code).to.equal(0);
    expect((await tfnz(['run', '-q', ...at, '-m', `${id}:/data`, 'busybox', 'cat', '/data/f'])).stdout, 'back to the snapshot').to.equal('one\n');
    expect((await tfnz(['volume', 'rm', tag, ...at])).stdout).to.equal(`${tag}\n`);
    const gone = await tfnz(['volume', 'rm', tag, ...at]);
    expect(gone.code).to.equal(125);
    expect(gone.stderr).to.contain(`no volume '${tag}'`);
  });
});
