import { expect } from 'chai';
import { firstValueFrom } from 'rxjs';
import { createInterface } from 'node:readline';
import { BadRequest, Location, StartupTimeout, Wait } from '../../lib/index';
import { exited, runScript } from '../support/processes';

/** The error a promise rejects with (or null if it resolves). */
const failure = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e);

describe('wait strategies (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let loc: Location;

  before(async () => {
    loc = await Location.connect({ quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('ready() resolves only on the second matching log line, like a database that restarts once', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'echo ready to accept connections; sleep 1; echo restarting; echo ready to accept connections; exec sleep 3600'],
      waitFor: Wait.forLogMessage(/ready to accept/, 2),
    });
    await ctr.ready();
    const texts = (await ctr.logs()).map((l) => l.text);
    expect(texts.filter((t) => t.includes('ready to accept'))).to.have.length(2);
    expect(texts).to.include('restarting');
  });

  it('a log message written before anyone waits still counts (the location kept it)', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'echo early bird; exec sleep 3600'] });
    await firstValueFrom(ctr.stdout$);
    await ctr.waitFor(Wait.forLogMessage('early bird'), { timeoutMs: 5000 });
  });

  it('past startupTimeoutMs, ready() rejects with StartupTimeout naming the strategy and carrying the last lines', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'for i in 1 2 3; do echo line-$i; done; echo oops >&2; exec sleep 3600'],
      waitFor: Wait.forLogMessage('never printed'),
      startupTimeoutMs: 1500,
    });
    const started = Date.now();
    const err = await failure(ctr.ready());
    expect(Date.now() - started).to.be.within(1000, 10_000);
    expect(err).to.be.instanceOf(StartupTimeout);
    expect(err!.message).to.contain("'never printed'").and.contain('1.5s').and.contain('line-3').and.contain('[stderr] oops');
    // stdout and stderr reach the engine as two streams: their order relative to each other is not kept.
    expect((err as StartupTimeout).lastLines).to.have.members(['line-1', 'line-2', 'line-3', '[stderr] oops']);
    expect(ctr.status).to.equal('running'); // the container is left for the user to inspect or destroy
  });

  it('a container that exits before its strategy holds fails at once, with its exit code and last lines', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'echo config missing; exit 3'],
      waitFor: Wait.forListeningPorts(5432),
      startupTimeoutMs: 30_000,
    });
    const started = Date.now();
    const err = await failure(ctr.ready());
    expect(Date.now() - started).to.be.lessThan(15_000);
    expect(err).to.be.instanceOf(StartupTimeout);
    expect(err!.message).to.contain('exited with 3').and.contain('listening ports 5432').and.contain('config missing');
  });

  it('forListeningPorts waits for every port, opened late', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'nc -ll -p 7000 -e true & sleep 1; nc -ll -p 7001 -e true & wait'],
      waitFor: Wait.forListeningPorts(7000, 7001),
    });
    await ctr.ready();
    const listening = (await ctr.runProcess('netstat -ltn')).stdout.toString();
    expect(listening).to.contain(':7000').and.contain(':7001');
  });

  it('forHttp waits for a chosen status and body text', async () => {
    const web = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'mkdir -p /www; echo starting > /www/status; httpd -f -p 8080 -h /www & sleep 1; echo all systems go > /www/status; wait'],
      waitFor: Wait.forHttp('/status', 8080, { body: 'systems go' }),
    });
    await web.ready();
    expect((await web.fetch('/www/status')).toString()).to.contain('systems go');
    await web.waitFor(Wait.forHttp('/missing', 8080, { status: 404 }), { timeoutMs: 5000 });
    const err = await failure(web.waitFor(Wait.forHttp('/status', 8080, { body: 'never there' }), { timeoutMs: 2000 }));
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('never there');
  });

  it('forSuccessfulCommand retries the command until it exits with 0', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'sleep 1; touch /tmp/ready; exec sleep 3600'],
      waitFor: Wait.forSuccessfulCommand('test -e /tmp/ready'),
    });
    await ctr.ready();
    expect((await ctr.runProcess('ls /tmp')).stdout.toString()).to.contain('ready');
  });

  it('forAll holds once every strategy holds; waitFor$ is the same wait as an Observable', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'echo booting; sleep 1; nc -ll -p 7002 -e true & echo serving; wait'],
    });
    await ctr.ready();
    await firstValueFrom(ctr.waitFor$(Wait.forAll([Wait.forLogMessage('serving'), Wait.forListeningPorts(7002)]), { timeoutMs: 10_000 }));
    expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(['booting', 'serving']);
  });

  it('bad strategies and timeouts are BadRequest before anything is spawned', () => {
    expect(() => Wait.forLogMessage('x', 0)).to.throw(BadRequest);
    expect(() => Wait.forListeningPorts()).to.throw(BadRequest, /at least one port/);
    expect(() => Wait.forHttp('status', 80)).to.throw(BadRequest, /start with \//);
    expect(() => loc.node().spawnContainer('busybox', { waitFor: Wait.forListeningPorts(80), startupTimeoutMs: -5 })).to.throw(BadRequest, /startupTimeoutMs/);
    expect(loc.node().allContainers().filter((c) => c.status === 'spawning')).to.have.length(0);
  });

  it('examples/postgres-style-wait.ts is ready only after the second "ready" line, and the port then answers', async () => {
    const child = runScript('examples/postgres-style-wait.ts');
    const out: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => out.push(line));
    let errors = '';
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    try {
      expect(await exited(child), `the example failed:\n${errors}`).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(out[0]).to.match(/^ready after \d+\.\ds; the log so far:$/);
    expect(out.filter((l) => l.includes('ready to accept connections'))).to.have.length(2);
    expect(out[out.length - 1]).to.equal('the server says: hello-from-db');
  });
});
