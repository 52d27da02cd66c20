import { expect } from 'chai';
import { firstValueFrom } from 'rxjs';
import { nanoid } from 'nanoid';
import { BadRequest, Location, type Container } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { docker } from '../support/docker';

/** What the engine was told to keep of a tfnz container's output (the location names it tfnz-<id>). */
const logConfig = async (ctr: Container) => (await docker.getContainer(`tfnz-${ctr.id}`).inspect()).HostConfig.LogConfig;

/** Spawn a container that prints one line and ends; resolves once it ended. */
async function printed(loc: Location, line: string): Promise<Container> {
  const ctr = loc.node().spawnContainer('busybox', { command: ['echo', line] });
  await firstValueFrom(ctr.termination$);
  return ctr;
}

describe("what engines keep of containers' output (real location, real Docker Engine)", function () {
  this.timeout(60_000);

  it('keeps nothing on the engine by default: the location streams and keeps the output itself', async () => {
    const loc = await Location.connect({ quiet: true });
    try {
      const ctr = await printed(loc, 'kept by the location');
      expect((await logConfig(ctr))?.Type).to.equal('none');
      expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(['kept by the location']);
    } finally {
      await loc.disconnect();
    }
  });

  it('engineLogs json-file keeps a rotated file on the engine for docker logs, beside the location', async () => {
    const server = await LocationServer.start({ name: `spec-engine-logs-${nanoid(6)}`, port: 0, engineLogs: 'json-file' });
    const loc = await Location.connect({ location: server.url, quiet: true });
    try {
      const ctr = await printed(loc, 'kept twice');
      expect(await logConfig(ctr)).to.deep.equal({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } });
      const onEngine = (await docker.getContainer(`tfnz-${ctr.id}`).logs({ stdout: true, stderr: true })) as unknown as Buffer;
      expect(onEngine.toString()).to.contain('kept twice');
      expect((await ctr.logs()).map((l) => l.text)).to.deep.equal(['kept twice']);
    } finally {
      await loc.disconnect();
      await server.close();
    }
  });

  it('refuses a name that is no log driver before it starts, saying which names it takes', async () => {
    const err = await LocationServer.start({ name: `spec-engine-logs-${nanoid(6)}`, port: 0, engineLogs: 'json file; rm' }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(BadRequest);
    expect(err!.message).to.match(/none, json-file, local or engine/);
  });
});
