import { expect } from 'chai';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { BadRequest, Location, StartupTimeout, Wait, type Container } from '../../lib/index';
import { containersLabelled, docker } from '../support/docker';

const failure = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e);
/** The first line a command prints in the container. */
const run = async (ctr: Container, command: string, opts = {}) => (await ctr.runProcess(command, opts)).stdout.toString().trim();
/** Either cgroup version's file, whichever the engine's host has. */
const cgroup = (v2: string, v1: string) => `cat /sys/fs/cgroup/${v2} 2>/dev/null || cat /sys/fs/cgroup/${v1}`;
/** Whether bit `bit` is set in the process's effective capabilities. */
const hasCap = async (ctr: Container, bit: number) => {
  const hex = (await run(ctr, "grep CapEff /proc/self/status")).split(/\s+/)[1];
  return ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
};
const CHOWN = 0;
const NET_ADMIN = 12;

describe('container options at spawn (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let loc: Location;

  before(async () => {
    loc = await Location.connect({ quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('user, workdir and entrypoint are what the main process sees', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      user: '1000:1001', workdir: '/srv/app', entrypoint: ['sh', '-c'], command: ['id -u; id -g; pwd'],
    });
    await firstValueFrom(ctr.termination$);
    expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(['1000', '1001', '/srv/app']);
  });

  it('processes run as the container user in its workdir, or as they are told, with their own env', async () => {
    const ctr = loc.node().spawnContainer('busybox', { user: '1000', workdir: '/tmp', command: ['sleep', '3600'] });
    await ctr.ready();
    expect(await run(ctr, 'id -u; pwd')).to.equal('1000\n/tmp');
    expect(await run(ctr, 'id -u; pwd; echo $GREETING', { user: '0', workdir: '/etc', env: { GREETING: 'kia ora' } })).to.equal('0\n/etc\nkia ora');
  });

  it('memory and cpu limits show in the cgroup', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], resources: { memoryMb: 64, cpus: 0.5 } });
    await ctr.ready();
    expect(await run(ctr, cgroup('memory.max', 'memory/memory.limit_in_bytes'))).to.equal(String(64 * 2 ** 20));
    const cpu = await run(ctr, `cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)`);
    expect(cpu).to.equal('50000 100000');
  });

  it('capabilities are added and dropped; tmpfs and /dev/shm are mounted at their sizes', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sleep', '3600'], capAdd: ['NET_ADMIN'], capDrop: ['cap_chown'], tmpfs: { '/scratch': 'size=8m' }, shmSizeMb: 16,
    });
    await ctr.ready();
    expect(await hasCap(ctr, NET_ADMIN)).to.equal(true);
    expect(await hasCap(ctr, CHOWN)).to.equal(false);
    expect(await run(ctr, 'grep " /scratch " /proc/mounts')).to.match(/^tmpfs \/scratch tmpfs .*size=8192k/);
    expect(await run(ctr, 'grep " /dev/shm " /proc/mounts')).to.contain('size=16384k');
    const plain = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await plain.ready();
    expect(await hasCap(plain, NET_ADMIN)).to.equal(false);
    expect(await hasCap(plain, CHOWN)).to.equal(true);
  });

  it("user labels sit beside tfnz's own; tfnz's cannot be set", async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], labels: { 'com.example.team': 'blue' } });
    await ctr.ready();
    const [name] = await containersLabelled('tfnz.container', ctr.id);
    const labels = (await docker.getContainer(name.slice(1)).inspect()).Config.Labels;
    expect(labels).to.include({ 'com.example.team': 'blue', 'tfnz.container': ctr.id });
    const sneaky = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], labels: { 'tfnz.user': 'someone-else' } });
    expect(await failure(sneaky.ready())).to.be.instanceOf(BadRequest).with.property('message').that.contains("'tfnz.'");
  });

  it('healthcheck makes Wait.forHealthCheck hold once the check passes', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sh', '-c', 'sleep 1; touch /tmp/healthy; exec sleep 3600'],
      healthcheck: { command: 'test -e /tmp/healthy', intervalMs: 300 },
      waitFor: Wait.forHealthCheck(),
    });
    await ctr.ready();
    expect(await run(ctr, 'ls /tmp')).to.contain('healthy');
    const none = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await none.ready();
    const err = await failure(none.waitFor(Wait.forHealthCheck(), { timeoutMs: 10_000 }));
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('no health check');
  });

  it('a health check that fails makes forHealthCheck fail once the engine says unhealthy', async () => {
    const ctr = loc.node().spawnContainer('busybox', {
      command: ['sleep', '3600'],
      healthcheck: { command: ['false'], intervalMs: 200, retries: 2 },
      waitFor: Wait.forHealthCheck(),
      startupTimeoutMs: 20_000,
    });
    const err = await failure(ctr.ready());
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('unhealthy');
  });

  it('bad values and privileged are BadRequest before anything is created', async () => {
    const bad: [string, Parameters<ReturnType<Location['node']>['spawnContainer']>[1]][] = [
      ['memoryMb', { resources: { memoryMb: -1 } }],
      ['NOT_A_CAP', { capAdd: ['NOT_A_CAP'] }],
      ['workdir', { workdir: 'relative/dir' }],
      ['user', { user: 'root; rm -rf /' }],
      ['tmpfs', { tmpfs: { '/x': 'size=1m;reboot' } }],
      ['privileged', { privileged: true }],
    ];
    for (const [what, opts] of bad) {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'], ...opts });
      const err = await failure(ctr.ready());
      expect(err, what).to.be.instanceOf(BadRequest).with.property('message').that.contains(what);
      expect(await containersLabelled('tfnz.container', ctr.id), what).to.deep.equal([]);
    }
    // The session goes on.
    const ok = loc.node().spawnContainer('busybox', { command: ['echo', 'still here'] });
    expect((await lastValueFrom(ok.logs$().pipe(toArray()))).map((l) => l.text)).to.deep.equal(['still here']);
  });
});
