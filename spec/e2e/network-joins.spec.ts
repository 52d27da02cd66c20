import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nanoid } from 'nanoid';
import { Location } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { DockerNetworkJoins } from '../../lib/engines/docker-network-joins';
import { docker } from '../support/docker';

const run = promisify(execFile);

/**
 * A container's address learned while the engine starts it (the engine's `network connect` event),
 * so the location closes it to other containers during the start: on the real engine, the address
 * is the one Docker gives the container, and the rule is in place when the container is reported
 * running.
 */
describe('network joins (address while starting, real Docker Engine)', function () {
  this.timeout(120_000);
  const label = `spec-joins-${nanoid(6)}`;
  const created: string[] = [];
  const joins = new DockerNetworkJoins(docker);

  const createBusybox = async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '3600'], Labels: { 'tfnz.spec': label } });
    created.push(c.id);
    return c;
  };

  after(async () => {
    joins.close();
    await Promise.all(created.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  });

  it("reports the address Docker gives the container, from the engine's event during its start", async () => {
    joins.listen();
    const c = await createBusybox();
    const joined = joins.expect(c.id);
    await c.start();
    // No giveUp: only the engine's event can resolve it.
    const address = await joined.address;
    const info = await c.inspect();
    expect(address).to.be.a('string').and.equal(info.NetworkSettings.Networks.bridge?.IPAddress);
  });

  it('gives up with no address when the container did not join (never started)', async () => {
    const c = await createBusybox();
    const joined = joins.expect(c.id);
    joined.giveUp();
    expect(await joined.address).to.equal(undefined);
  });

  it('a container reported running already has its deny rule for the address it reports', async () => {
    const server = await LocationServer.start({ name: `spec-joins-${nanoid(6)}`, port: 0 });
    const loc = await Location.connect({ location: server.url, quiet: true });
    try {
      const node = loc.node();
      // Several at once, so the rules are added while other starts are in flight.
      const ctrs = [0, 1, 2].map(() => node.spawnContainer('busybox', { command: ['sleep', '3600'] }));
      for (const ctr of ctrs) {
        await ctr.ready();
        const { stdout } = await run('iptables', ['-w', '-S', 'TFNZ-DENY']);
        const rules = stdout.split('\n').filter((l) => l.includes(`:deny:${ctr.id}`));
        expect(rules, `deny rule of ${ctr.id}`).to.have.length(1);
        expect(rules[0]).to.include(`-d ${ctr.privateIp}/32`).and.include('-j DROP');
      }
      // And what the location reports is what Docker says.
      for (const ctr of ctrs) {
        const [found] = await docker.listContainers({ filters: { label: [`tfnz.container=${ctr.id}`] } });
        expect(found?.NetworkSettings?.Networks?.bridge?.IPAddress).to.equal(ctr.privateIp);
      }
    } finally {
      await loc.disconnect();
      await server.close();
    }
  });
});
