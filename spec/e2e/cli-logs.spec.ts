import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { nanoid } from 'nanoid';
import { LocationServer } from '../../lib/server/index';
import { containersLabelled, docker } from '../support/docker';

const run = promisify(execFile);
const tfnz = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args]);
/** The first line of `stream` that passes `test`; rejects if the process ends first. */
const lineOf = (cli: ChildProcess, test: (line: string) => boolean) =>
  new Promise<string>((resolve, reject) => {
    createInterface({ input: cli.stdout! }).on('line', (line) => test(line) && resolve(line));
    cli.once('exit', (code) => reject(new Error(`tfnz exited (${code}) first`)));
  });

describe('tfnz run options and tfnz logs (real location, real Docker Engine, the CLI as a user runs it)', function () {
  this.timeout(90_000);
  let server: LocationServer;
  let cli: ChildProcess | undefined;

  before(async () => {
    server = await LocationServer.start({ name: `spec-cli-logs-${nanoid(6)}`, port: 0 });
  });
  afterEach(() => cli?.kill('SIGKILL'));
  after(async () => {
    await server?.close();
  });

  it('tfnz run applies --memory, -u, --workdir, -l and --entrypoint; tfnz logs reads its history from another session', async () => {
    const tag = `logs-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    cli = spawn(process.execPath, [
      '--import', 'tsx', 'lib/cli/main.ts', 'run', '-q', '--location', server.url, '--tag', tag, '--memory', '64m', '-u', '1000', '--workdir', '/srv',
      '-l', 'team=blue', '--wait-log', 'serving', '--entrypoint', 'sh', 'busybox',
      // stderr first, and a moment before stdout: the two streams keep no order between them.
      '-c', 'echo oops >&2; sleep 0.5; id -u; pwd; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo serving; exec sleep 3600',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    await lineOf(cli, (l) => l === 'serving');
    const [name] = await containersLabelled('tfnz.tag', tag);
    expect((await docker.getContainer(name.slice(1)).inspect()).Config.Labels).to.include({ team: 'blue' });

    const all = await tfnz('logs', tag, '--location', server.url);
    expect(all.stdout).to.equal(`1000\n/srv\n${64 * 2 ** 20}\nserving\n`);
    expect(all.stderr).to.equal('oops\n');
    const last = await tfnz('logs', tag, '--location', server.url, '--tail', '1', '-t');
    expect(last.stdout).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z serving\n$/);
    expect((await tfnz('logs', tag, '--location', server.url, '--since', '2h', '-n', '2')).stdout).to.equal(`${64 * 2 ** 20}\nserving\n`);
    const bad = await tfnz('logs', tag, '--location', server.url, '--since', 'yesterday').then(() => null, (e: { stderr: string }) => e);
    expect(bad?.stderr).to.contain('--since wants a duration');
  });

  it('tfnz logs -f follows until the container ends', async () => {
    const tag = `follow-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    cli = spawn(process.execPath, [
      '--import', 'tsx', 'lib/cli/main.ts', 'run', '-q', '--location', server.url, '--tag', tag, '--health-cmd', 'test -e /tmp/up', 'busybox',
      'sh', '-c', 'echo first; touch /tmp/up; until [ -e /tmp/go ]; do usleep 100000; done; echo second; echo third',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    await lineOf(cli, (l) => l === 'first');
    const follower = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'logs', tag, '--location', server.url, '-f'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const out: string[] = [];
      const done = new Promise<number | null>((resolve) => follower.once('exit', resolve));
      createInterface({ input: follower.stdout! }).on('line', (l) => out.push(l));
      await lineOf(follower, (l) => l === 'first'); // replayed: it follows now
      const [name] = await containersLabelled('tfnz.tag', tag);
      const go = await docker.getContainer(name.slice(1)).exec({ Cmd: ['touch', '/tmp/go'] });
      await go.start({ Detach: true });
      expect(await done).to.equal(0);
      expect(out).to.deep.equal(['first', 'second', 'third']);
    } finally {
      follower.kill('SIGKILL');
    }
  });
});
