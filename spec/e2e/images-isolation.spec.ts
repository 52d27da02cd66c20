import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { Location } from '../../lib/index';
import { ensureAccount } from '../../lib/client/accounts';
import type { EventFrame } from '../../lib/protocol';
import { buildMarkedImage, docker } from '../support/docker';
import { claimNodeEngines, nodeEngineAddress, releaseNodeEngines } from '../support/node-engines';
import { startLocationProcess, stopProcess } from '../support/processes';
import { freshHome, inHome } from '../support/home';
import { rawClient } from '../support/raw-client';
import { output } from '../support/container-output';

/**
 * An uploaded image is its uploader's alone, on a real location in its own process whose node is
 * an extra engine: another user reaches it by neither id nor digests, learns nothing by asking
 * which layers are missing, and the owner carries on.
 */
describe('images are per user: nobody runs or probes another user\'s upload (location in its own process)', function () {
  this.timeout(240_000);
  let ENGINES: number[] = [];
  const image = `tfnz-spec-private-${nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const marker = `private ${nanoid()}`;
  const dirs: string[] = [];
  let location: Awaited<ReturnType<typeof startLocationProcess>>;

  before(async function () {
    this.timeout(300_000);
    ENGINES = await claimNodeEngines(1);
    const cache = mkdtempSync(join(tmpdir(), 'tfnz-private-cache-'));
    dirs.push(cache);
    await buildMarkedImage(image, marker);
    location = await startLocationProcess(`spec-private-${nanoid(6)}`, ['--engine', nodeEngineAddress(ENGINES[0]), '--cache-dir', cache]);
  });
  after(async function () {
    this.timeout(120_000);
    await stopProcess(location?.child);
    await releaseNodeEngines(ENGINES);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('another user can neither run the owner\'s upload by id or digests nor learn that it is cached', async () => {
    const home = freshHome('private-owner');
    dirs.push(home);
    const owner = await inHome(home, () => {
      ensureAccount(location.url);
      return Location.connect({ location: location.url, quiet: true });
    });
    try {
      expect(await output(owner.node().spawnContainer(image, { command: ['cat', '/marker.txt'] }))).to.equal(marker);
      const info = await docker.getImage(image).inspect();
      const layers = info.RootFS.Layers!;
      const mallory = await rawClient(location.url);
      try {
        expect((await mallory.request('open_session', { client: 'spec', user: 'mallory' })).error).to.equal(undefined);
        const offer = (await mallory.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame;
        const node = (offer.params as { nodes: { id: string }[] }).nodes[0].id;
        const asked = await mallory.request('image_layers_missing', { id: info.Id, layers });
        expect(asked.result, 'she learns nothing of what the owner cached').to.deep.equal({ missing: layers, configMissing: true });
        for (const params of [{ image: info.Id }, { image: image, imageId: info.Id }, { image: 'busybox:latest', imageId: info.Id }]) {
          const spawned = await mallory.request('spawn_container', { container: nanoid(), node, ...params, command: ['cat', '/marker.txt'] });
          expect(spawned.error?.code, JSON.stringify(params)).to.equal('IMAGE_NOT_FOUND');
        }
        const described = await mallory.request('put_image_description', { name: 'mine-now', id: info.Id, layers });
        expect(described.error?.code).to.equal('BAD_REQUEST');
        expect((await mallory.request('spawn_container', { container: nanoid(), node, image: 'mine-now' })).error?.code).to.equal('IMAGE_NOT_FOUND');
      } finally {
        mallory.ws.close();
      }
      // The owner carries on, from the cache, with nothing to upload again.
      expect(await output(owner.node().spawnContainer(image, { command: ['cat', '/marker.txt'] }))).to.equal(marker);
    } finally {
      await owner.disconnect();
    }
  });
});
