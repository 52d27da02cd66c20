import { expect } from 'chai';
import { filter, firstValueFrom, lastValueFrom, map, toArray } from 'rxjs';
import { BadRequest, ContainerNotRunning, Location, type Container, type Process } from '../../lib/index';

/** Everything `p` writes to output$ from now on; `until(text)` resolves once it contains `text`. */
function transcript(p: Process): { until(text: string): Promise<string> } {
  let all = '';
  p.output$.subscribe((b) => (all += b.toString()));
  return {
    until: (text) => all.includes(text)
      ? Promise.resolve(all)
      : firstValueFrom(p.output$.pipe(map(() => all), filter((a) => a.includes(text)))),
  };
}

describe('processes inside containers (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let loc: Location;
  let box: Container;

  before(async () => {
    loc = await Location.connect({ quiet: true });
    box = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], env: { GREETING: 'kia ora' } });
    await box.ready();
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('runs a command to its end: stdout, stderr and exit code, with the container\'s environment', async () => {
    const result = await box.runProcess('echo "$GREETING"; echo oops >&2; exit 3');
    expect(result.stdout.toString()).to.equal('kia ora\n');
    expect(result.stderr.toString()).to.equal('oops\n');
    expect(result.exitCode).to.equal(3);
    // An argv list is quoted word by word, so nothing is re-split by the shell.
    const quoted = await box.runProcess(['echo', "it's  spaced", '$HOME']);
    expect(quoted.stdout.toString()).to.equal("it's  spaced $HOME\n");
  });

  it('runs several processes at once, each with its own output and stdin', async () => {
    const procs = ['one', 'two', 'three'].map((name) => {
      const p = box.spawnProcess(`read line; echo "${name}:$line"; read line; echo "${name}:$line" >&2`);
      return { name, p, out: lastValueFrom(p.output$.pipe(map(String), toArray())), err: lastValueFrom(p.stderr$.pipe(map(String), toArray())) };
    });
    expect(box.allProcesses()).to.include.members(procs.map((x) => x.p));
    for (const { name, p } of procs) p.stdin(`first-${name}\nsecond-${name}\n`);
    for (const { name, p, out, err } of procs) {
      expect(await p.wait()).to.equal(0);
      expect((await out).join('')).to.equal(`${name}:first-${name}\n`);
      expect((await err).join('')).to.equal(`${name}:second-${name}\n`);
    }
    expect(box.allProcesses()).to.not.include.members(procs.map((x) => x.p));
  });

  it('streams a flood of output completely, and control messages still flow meanwhile', async () => {
    const flood = box.spawnProcess('head -c 40000000 /dev/zero');
    let bytes = 0;
    const counted = lastValueFrom(flood.output$.pipe(map((b) => (bytes += b.length))), { defaultValue: 0 });
    expect((await box.runProcess('echo meanwhile')).stdout.toString()).to.equal('meanwhile\n');
    expect(await flood.wait()).to.equal(0);
    await counted;
    expect(bytes).to.equal(40_000_000);
  });

  it('closes stdin so a reader finishes', async () => {
    const sort = box.spawnProcess('sort');
    const out = lastValueFrom(sort.output$.pipe(map(String), toArray()));
    sort.stdin('pear\napple\nfig\n');
    sort.closeStdin();
    expect(await sort.wait()).to.equal(0);
    expect((await out).join('')).to.equal('apple\nfig\npear\n');
  });

  it('kills a process mid-stream together with its children', async () => {
    const p = box.spawnProcess('sleep 1001 & sh -c "sleep 1002" & while true; do echo tick; sleep 0.05; done');
    await transcript(p).until('tick\ntick\n');
    expect((await box.runProcess('ps')).stdout.toString()).to.contain('sleep 1001').and.contain('sleep 1002');
    await box.destroyProcess(p);
    expect(await firstValueFrom(p.termination$)).to.equal(137);
    expect(p.isRunning).to.equal(false);
    const ps = (await box.runProcess('ps')).stdout.toString();
    expect(ps).to.not.contain('sleep 1001');
    expect(ps).to.not.contain('sleep 1002');
    // Late subscribers still get the exit code.
    expect(await p.wait()).to.equal(137);
  });

  it('gives an interactive shell on a pty, echo off, driven by the spec', async () => {
    const shell = box.spawnShell();
    const session = transcript(shell);
    shell.stdin('echo answer=$((6*7)); tty\n');
    const seen = await session.until('answer=42');
    expect(seen).to.not.contain('6*7'); // the typed line is not echoed back
    expect(await session.until('/dev/pts/')).to.match(/\/dev\/pts\/\d+/);
    shell.stdin('exit 5\n');
    expect(await shell.wait()).to.equal(5);
  });

  it('echoes typed input when asked to (for a terminal)', async () => {
    const shell = box.spawnShell({ echo: true });
    const session = transcript(shell);
    shell.stdin('echo $((100+23))\n');
    const seen = await session.until('123\r\n');
    expect(seen).to.contain('echo $((100+23))');
    await box.destroyProcess(shell);
  });

  it('sizes a pty before the command runs, for a command and for a shell', async () => {
    const sized = box.spawnProcess('stty size', { tty: true, size: { cols: 123, rows: 45 } });
    const out = transcript(sized);
    expect(await sized.wait()).to.equal(0);
    expect(await out.until('45 123')).to.match(/^45 123\r?$/m);
    const shell = box.spawnShell({ size: { cols: 100, rows: 30 } });
    const typed = transcript(shell);
    shell.stdin('stty size; echo first-done\n');
    expect(await typed.until('first-done'), 'after the prompt').to.match(/(^|# )30 100\r?$/m);
    await box.destroyProcess(shell);
  });

  it('runs processes in a sleeping container before start()', async () => {
    const sleeper = loc.node().spawnContainer('busybox', { sleep: true, command: ['sh', '-c', 'cat /proc/1/cmdline; echo'] });
    await sleeper.ready();
    expect(sleeper.info.sleeping).to.equal(true);
    const result = await sleeper.runProcess('echo awake-enough; ls /bin/busybox');
    expect(result.stdout.toString()).to.equal('awake-enough\n/bin/busybox\n');
    await loc.node().destroyContainer(sleeper);
  });

  it('runs processes in nginx (Debian) with bash as the shell', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    const release = await nginx.runProcess('cat /etc/os-release');
    expect(release.stdout.toString()).to.contain('Debian');
    const shell = nginx.spawnShell();
    const session = transcript(shell);
    shell.stdin('echo "shell=$0"\n');
    expect(await session.until('shell=')).to.match(/shell=-?(\/bin\/)?bash/);
    // Killing works with Debian's tools too (no ps there: read /proc).
    const sleepers = 'cat /proc/[0-9]*/cmdline | tr "\\0" " " | grep -o "sleep 100[12]" || true';
    const p = nginx.spawnProcess('sleep 1001 & exec sleep 1002');
    await p.started;
    expect((await nginx.runProcess(sleepers)).stdout.toString()).to.contain('sleep 1001').and.contain('sleep 1002');
    await nginx.destroyProcess(p);
    expect((await nginx.runProcess(sleepers)).stdout.toString()).to.equal('');
    await loc.node().destroyContainer(nginx);
    expect(await shell.wait()).to.be.a('number');
  });

  it('ends a container\'s processes when the container is destroyed', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    const p = ctr.spawnProcess('sleep 1000000');
    await p.started;
    const ended = p.wait();
    await loc.node().destroyContainer(ctr);
    expect(await ended).to.equal(137);
    expect(ctr.allProcesses()).to.deep.equal([]);
  });

  it('rejects bad commands at once and reports a process in a dead container as a typed error', async () => {
    expect(() => box.spawnProcess('')).to.throw(BadRequest);
    expect(() => box.spawnProcess([])).to.throw(BadRequest);
    const done = loc.node().spawnContainer('busybox', { command: ['true'] });
    await firstValueFrom(done.termination$);
    const err = await done.runProcess('echo hi').then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(ContainerNotRunning);
    await loc.node().destroyContainer(done);
    const late = await done.spawnProcess('echo hi').wait().then(() => null, (e: Error) => e);
    expect(late).to.be.instanceOf(ContainerNotRunning);
  });
});
