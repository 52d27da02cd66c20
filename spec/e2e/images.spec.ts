import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import type Docker from 'dockerode';
import { ImageNotFound, Location, type UploadProgress } from '../../lib/index';
import { DockerEngine, LocationServer } from '../../lib/server/index';
import { encodeFrame, type ReplyFrame } from '../../lib/protocol';
import { claimNodeEngines, nodeEngineAddress, nodeEngineDocker, releaseNodeEngines } from '../support/node-engines';
import { buildMarkedImage, docker } from '../support/docker';
import { rawClient } from '../support/raw-client';
import { eventually } from '../support/docker';
import { FaultProxy } from '../support/fault-proxy';
import { linkChanges, nextLink } from '../support/session-link';
import { output } from '../support/container-output';
import { connectAsFreshUser } from '../support/home';

const run = promisify(execFile);

/**
 * Images end to end: the client's engine is the default dockerd; the location's only node is an
 * extra dockerd (scripts/start-node-engine.sh) that has busybox but none of the images built here,
 * so whatever runs there came through the location's layer cache.
 */
describe('images: layer cache, uploads of what is missing, per-user descriptions', function () {
  this.timeout(240_000);
  let ENGINES: number[] = [];
  let node: Docker;
  const name = `spec-${nanoid(8)}`;
  const tag = nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  const imageA = `tfnz-spec-a-${tag}`;
  const imageB = `tfnz-spec-b-${tag}`;
  const imageC = `tfnz-spec-c-${tag}`;
  const imageD = `tfnz-spec-d-${tag}`;
  const imageE = `tfnz-spec-e-${tag}`;
  const imageF = `tfnz-spec-f-${tag}`;
  const imageG = `tfnz-spec-g-${tag}`;
  const imageH = `tfnz-spec-h-${tag}`;
  const imageI = `tfnz-spec-i-${tag}`;
  const imageJ = `tfnz-spec-j-${tag}`;
  const markers: Record<string, string> = {};
  const homes: string[] = [];
  let cacheDir: string;
  let server: LocationServer;
  let loc: Location;

  /** An image on the client's engine: busybox plus one layer of `mib` MiB of random bytes and a marker file. */
  async function build(image: string, mib: number, dockerfile?: string): Promise<void> {
    markers[image] = `marker ${image} ${nanoid()}`;
    await buildMarkedImage(image, markers[image], mib, dockerfile);
  }

  const localImage = (image: string) => docker.getImage(image).inspect();
  const onNode = (id: string) => node.getImage(id).inspect().catch(() => undefined);

  /** The tar of an image's layer `index` (bottom first), as `docker save` exports it. */
  async function layerTar(image: string, index: number): Promise<Buffer> {
    return (await savedImage(image)).layers[index];
  }

  /** An image as `docker save` exports it: its config and its layer tars (bottom first). */
  async function savedImage(image: string): Promise<{ config: Buffer; layers: Buffer[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-save-'));
    try {
      await run('sh', ['-c', `docker save ${image} | tar -x -C ${dir}`], { timeout: 120_000 });
      const [manifest] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
      return { config: readFileSync(join(dir, manifest.Config)), layers: manifest.Layers.map((l) => readFileSync(join(dir, l))) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Send `bytes` as layer `layer` in file_data frames, as a bare client would; resolves with its file_end's error (undefined: kept). */
  async function rawUploadLayer(client: Awaited<ReturnType<typeof rawClient>>, layer: string, bytes: Buffer): Promise<unknown> {
    const transfer = nanoid();
    expect((await client.request('upload_layer', { transfer, layer, size: bytes.length })).error).to.equal(undefined);
    for (let at = 0; at < bytes.length; at += 2 ** 20) {
      client.send(encodeFrame({ kind: 'request', id: 0, command: 'file_data', params: { transfer }, bulk: bytes.subarray(at, at + 2 ** 20) }));
    }
    const end = (await client.next((f) => f.kind === 'event' && f.event === 'file_end' && (f.params as { transfer: string }).transfer === transfer)) as {
      params: { error?: unknown };
    };
    return end.params.error;
  }

  /** The ids of the node's images (any, untagged too) whose stack holds `layer`. */
  async function holding(layer: string): Promise<string[]> {
    const images = await node.listImages({ all: true });
    const infos = await Promise.all(images.map((i) => node.getImage(i.Id).inspect().catch(() => undefined)));
    return infos.filter((i) => i?.RootFS.Layers?.includes(layer)).map((i) => i!.Id);
  }
  const stored = () => server.images.bytesStored;

  /** Connect as a user of our own: a fresh TFNZ_HOME holding an account for this location. */
  async function connectAs(user: string, opts: Parameters<typeof Location.connect>[0] = {}): Promise<Location> {
    const { loc, home } = await connectAsFreshUser(server.url, user, opts);
    homes.push(home);
    return loc;
  }

  before(async function () {
    this.timeout(300_000);
    ENGINES = await claimNodeEngines(1);
    node = nodeEngineDocker(ENGINES[0]);
    await build(imageA, 8);
    await build(imageB, 1);
    await build(imageC, 2);
    await build(imageD, 1);
    await build(imageE, 24);
    await build(imageF, 1);
    // Shares no layer with the node (nor the cache): each layer goes into the node's load as it arrives.
    await build(imageG, 2, 'FROM scratch\nCOPY random.bin /\nCOPY marker.txt /\n');
    await build(imageH, 1);
    await build(imageI, 1);
    await build(imageJ, 1);
    cacheDir = mkdtempSync(join(tmpdir(), 'tfnz-cache-'));
    server = await LocationServer.start({ name, port: 0, engines: [new DockerEngine(nodeEngineAddress(ENGINES[0]))], cacheDir, sessionGraceMs: 2000 });
    loc = await Location.connect({ location: server.url, quiet: true });
  });

  after(async function () {
    this.timeout(300_000);
    await loc?.disconnect();
    await server?.close();
    await releaseNodeEngines(ENGINES);
    for (const image of [imageA, imageB, imageC, imageD, imageE, imageF, imageG, imageH, imageI, imageJ]) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    for (const dir of [cacheDir, ...homes]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('spawns an image only the client has: uploads it once, then never again', async () => {
    const a = await localImage(imageA);
    expect(await node.getImage(imageA).inspect().catch(() => undefined), 'the node lacks it').to.equal(undefined);
    const progress: UploadProgress[] = [];
    const sub = loc.uploads$.subscribe((p) => progress.push(p));
    const before = stored();
    expect(await output(loc.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
    const first = stored() - before;
    // Everything: busybox's layer (not yet in the cache) and the new one, as uncompressed tars.
    expect(first).to.be.within(a.Size, a.Size * 1.05 + 2 ** 20);
    expect(progress.at(-1)).to.include({ image: imageA, phase: 'done', bytesDone: first, bytesTotal: first, layersDone: 2, layersTotal: 2 });
    // The node got the image from the cache, untagged: the user's name never shows there.
    const onNode = await node.getImage(a.Id).inspect();
    expect(onNode.RepoTags ?? []).to.deep.equal([]);

    const again = stored();
    expect(await output(loc.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
    expect(stored() - again, 'second spawn uploads nothing').to.equal(0);
    sub.unsubscribe();
    console.log(`      image A (${(a.Size / 2 ** 20).toFixed(1)} MiB): first spawn uploaded ${first} bytes, second 0`);
  });

  it('uploads only the new layer of a second image on the same base', async () => {
    const b = await localImage(imageB);
    const [base, top] = b.RootFS.Layers!;
    expect(base, 'same base as A').to.equal((await localImage(imageA)).RootFS.Layers![0]);
    const before = stored();
    const layersBefore = server.images.layersStored;
    expect(await output(loc.node().spawnContainer(imageB, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageB]);
    const sent = stored() - before;
    expect(server.images.layersStored - layersBefore, 'one layer').to.equal(1);
    expect(server.images.hasLayer(top)).to.equal(true);
    expect(sent).to.be.within(2 ** 20, 2 ** 20 + 64 * 1024); // the 1 MiB file, the marker, tar headers
    console.log(`      image B: uploaded ${sent} bytes (only its own layer)`);
  });

  it('ensureImageUploaded reports progress, returns the layer digests, and sends nothing the second time', async () => {
    const c = await localImage(imageC);
    const progress: UploadProgress[] = [];
    const layers = await loc.ensureImageUploaded(imageC, { progress$: { next: (p) => progress.push(p) } });
    expect(layers).to.deep.equal(c.RootFS.Layers);
    expect(progress[0].phase).to.equal('exporting');
    const last = progress.at(-1)!;
    expect(last).to.include({ phase: 'done', layersDone: 1, layersTotal: 1 });
    expect(last.bytesDone).to.equal(last.bytesTotal).and.to.be.greaterThan(2 * 2 ** 20);
    const done = progress.filter((p) => p.phase === 'uploading').map((p) => p.bytesDone);
    expect(done, 'bytes only grow').to.deep.equal([...done].sort((x, y) => x - y));
    // The Observable form: nothing missing, so straight to done.
    const second = await lastValueFrom(loc.uploadImage$(imageC).pipe(toArray()));
    expect(second.map((p) => p.phase)).to.deep.equal(['done']);
    expect(second[0]).to.include({ bytesTotal: 0, layersTotal: 0 });
  });

  it('loads an upload into the node while it arrives: the image is there, untagged, before any spawn asks', async () => {
    const g = await localImage(imageG);
    expect(await onNode(g.Id), 'the node lacks it').to.equal(undefined);
    await loc.ensureImageUploaded(imageG);
    // Nothing spawned it: the node's docker load took the layers as they came and ends once the upload is whole.
    const loaded = await eventually(async () => (await onNode(g.Id)) ?? Promise.reject(new Error(`node lacks ${g.Id}`)), 60_000);
    expect(loaded.RepoTags ?? []).to.deep.equal([]);
    expect(loaded.RootFS.Layers, 'docker load checked every layer against the config').to.deep.equal(g.RootFS.Layers);
  });

  it('an upload that never became whole loads nothing into the node; a later whole one does', async () => {
    const h = await localImage(imageH);
    const [, top] = h.RootFS.Layers!;
    const bytes = await layerTar(imageH, 1);
    const mallory = await rawClient(server.url);
    const sessionsBefore = server.sessionCount;
    try {
      await mallory.request('open_session', { client: 'spec', user: 'mallory' });
      await mallory.request('image_layers_missing', { id: h.Id, layers: h.RootFS.Layers });
      // Its only layer the node lacks arrives whole and verifies; the base (missing for her), the description and config never do.
      expect(await rawUploadLayer(mallory, top, bytes)).to.equal(undefined);
      expect(server.images.hasLayer(top)).to.equal(true);
      // The node applies it while the upload goes on, under a placeholder image that is not the image.
      await eventually(async () => expect(await holding(top)).to.have.length(1), 30_000);
      expect(await onNode(h.Id)).to.equal(undefined);
    } finally {
      mallory.ws.close();
    }
    await eventually(async () => expect(server.sessionCount).to.equal(sessionsBefore), 20_000);
    expect(await onNode(h.Id), 'nothing of the cut upload loaded').to.equal(undefined);
    await eventually(async () => expect(await holding(top), 'the layer went with the placeholder').to.deep.equal([]), 20_000);
    expect(await output(loc.node().spawnContainer(imageH, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageH]);
  });

  it('a node applies the layer it lacks while the upload still sends the base it has; the whole upload leaves only the image', async () => {
    const i = await localImage(imageI);
    const [base, top] = i.RootFS.Layers!;
    const saved = await savedImage(imageI);
    const trent = await rawClient(server.url);
    try {
      await trent.request('open_session', { client: 'spec', user: 'trent' });
      // New to trent, so both layers are his to send: the node (which has busybox) lacks only the top.
      expect((await trent.request('image_layers_missing', { id: i.Id, layers: i.RootFS.Layers })).result).to.deep.equal({ missing: [base, top], configMissing: true });
      expect(await rawUploadLayer(trent, top, saved.layers[1])).to.equal(undefined);
      await eventually(async () => expect(await holding(top)).to.have.length(1), 30_000);
      const [placeholder] = await holding(top);
      expect(placeholder).to.not.equal(i.Id);
      expect(await rawUploadLayer(trent, base, saved.layers[0])).to.equal(undefined);
      expect((await trent.request('put_image_description', { name: imageI, id: i.Id, layers: i.RootFS.Layers, config: saved.config })).error).to.equal(undefined);
      // The image itself, untagged, its layers checked against its config; the placeholder gone.
      await eventually(async () => expect(await holding(top)).to.deep.equal([i.Id]), 30_000);
      const loaded = (await onNode(i.Id))!;
      expect(loaded.RepoTags ?? []).to.deep.equal([]);
      expect(loaded.RootFS.Layers).to.deep.equal(i.RootFS.Layers);
      const offer = await trent.next((f) => f.kind === 'event' && f.event === 'resource_offer');
      const nodeId = (offer as { params: { nodes: { id: string }[] } }).params.nodes[0].id;
      const spawned = await trent.request('spawn_container', { container: nanoid(), node: nodeId, image: imageI, command: ['true'] });
      expect(spawned.error).to.equal(undefined);
    } finally {
      trent.ws.close();
    }
  });

  it('given the config early (image_config), a node loads the image itself while the base still uploads; a cut upload takes it away', async () => {
    const j = await localImage(imageJ);
    const [base, top] = j.RootFS.Layers!;
    const saved = await savedImage(imageJ);
    const sessionsBefore = server.sessionCount;
    const victor = await rawClient(server.url);
    const config = (bytes: Buffer) => victor.send(encodeFrame({ kind: 'request', id: 0, command: 'image_config', params: { id: j.Id, config: bytes } }));
    try {
      await victor.request('open_session', { client: 'spec', user: 'victor' });
      const offer = await victor.next((f) => f.kind === 'event' && f.event === 'resource_offer');
      const nodeId = (offer as { params: { nodes: { id: string }[] } }).params.nodes[0].id;
      expect((await victor.request('image_layers_missing', { id: j.Id, layers: j.RootFS.Layers })).result).to.deep.equal({ missing: [base, top], configMissing: true });
      // Not this image's config: refused, with a reason.
      config(Buffer.from('{"rootfs":{"diff_ids":[]}}'));
      const refused = (await victor.next((f) => f.kind === 'event' && f.event === 'error')) as { params: { error: { code: string; message: string } } };
      expect(refused.params.error).to.include({ code: 'BAD_REQUEST' });
      expect(refused.params.error.message).to.match(/not the image id/);
      config(saved.config);
      expect(await rawUploadLayer(victor, top, saved.layers[1])).to.equal(undefined);
      // The node has every layer it lacked (it has busybox): it loads the image itself, no placeholder, before the base comes.
      const early = await eventually(async () => (await onNode(j.Id)) ?? Promise.reject(new Error(`node lacks ${j.Id}`)), 30_000);
      expect(early.RepoTags ?? [], 'untagged: only the cache\'s grants reach it').to.deep.equal([]);
      expect(early.RootFS.Layers).to.deep.equal(j.RootFS.Layers);
      expect(await holding(top)).to.deep.equal([j.Id]);
      // Not his to run while the upload is not whole, by name or by id.
      for (const params of [{ image: imageJ }, { image: imageJ, imageId: j.Id }, { image: j.Id }]) {
        const spawned = await victor.request('spawn_container', { container: nanoid(), node: nodeId, ...params, command: ['true'] });
        expect(spawned.error?.code, JSON.stringify(params)).to.equal('IMAGE_NOT_FOUND');
      }
    } finally {
      victor.ws.close();
    }
    // It never became whole: the image goes from the node again, and its layer with it.
    await eventually(async () => expect(server.sessionCount).to.equal(sessionsBefore), 20_000);
    await eventually(async () => expect(await onNode(j.Id), 'the early image removed').to.equal(undefined), 20_000);
    await eventually(async () => expect(await holding(top)).to.deep.equal([]), 20_000);
    // The SDK's own upload sends the config early too, and the spawn finds the image loaded.
    expect(await output(loc.node().spawnContainer(imageJ, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageJ]);
  });

  it('a second user must send the bytes himself (stored once), and reaches no other user\'s image by name, id or digests', async () => {
    const a = await localImage(imageA);
    const bob = await connectAs('bob');
    try {
      expect(bob.state.user).to.not.equal(loc.state.user);
      const before = stored();
      const progress: UploadProgress[] = [];
      const sub = bob.uploads$.subscribe((p) => progress.push(p));
      // Bob has the image locally too, and the node holds that id (loaded for the first user,
      // untagged): he may run it only once he has uploaded it himself.
      expect(await output(bob.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
      sub.unsubscribe();
      expect(progress.at(-1)).to.include({ image: imageA, phase: 'done', layersDone: 2, layersTotal: 2 });
      expect(progress.at(-1)!.bytesDone, 'bob sent the bytes').to.be.at.least(a.Size);
      expect(stored() - before, 'the cache kept them once').to.equal(0);
      await bob.ensureImageUploaded(imageA);
    } finally {
      await bob.disconnect();
    }
    // Mallory has no local engine copy, but knows everything about image A except its bytes.
    const mallory = await rawClient(server.url);
    try {
      await mallory.request('open_session', { client: 'spec', user: 'mallory' });
      const offer = await mallory.next((f) => f.kind === 'event' && f.event === 'resource_offer');
      const nodeId = (offer as { params: { nodes: { id: string }[] } }).params.nodes[0].id;
      for (const image of [imageA, imageB]) {
        const reply = await mallory.request('spawn_container', { container: nanoid(), node: nodeId, image });
        expect(reply.error?.code).to.equal('IMAGE_NOT_FOUND');
        expect(reply.error?.message).to.include(image);
      }
      // By id, as the image or as imageId: the node holds it, but only for those who uploaded it.
      for (const params of [{ image: a.Id }, { image: a.Id.slice(7, 19) }, { image: imageA, imageId: a.Id }, { image: 'anything', imageId: a.Id }]) {
        const reply = await mallory.request('spawn_container', { container: nanoid(), node: nodeId, ...params });
        expect(reply.error?.code, JSON.stringify(params)).to.equal('IMAGE_NOT_FOUND');
      }
      // Asking reveals nothing: every layer is missing for her, and so is the config.
      const layers = a.RootFS.Layers!;
      const asked = await mallory.request('image_layers_missing', { id: a.Id, layers });
      expect(asked.result).to.deep.equal({ missing: layers, configMissing: true });
      // A description of its digests is refused, so it cannot then be spawned by name.
      const described = await mallory.request('put_image_description', { name: 'stolen', id: a.Id, layers });
      expect(described.error?.code).to.equal('BAD_REQUEST');
      const stolen = await mallory.request('spawn_container', { container: nanoid(), node: nodeId, image: 'stolen' });
      expect(stolen.error?.code).to.equal('IMAGE_NOT_FOUND');
      // The node's own images still serve everyone.
      const busybox = await mallory.request('spawn_container', { container: nanoid(), node: nodeId, image: 'busybox:latest', command: ['true'] });
      expect(busybox.error).to.equal(undefined);
    } finally {
      mallory.ws.close();
    }
    // The first user is unaffected.
    expect(await output(loc.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
    // The SDK without a local engine: this user's own description is found by name.
    const remote = await Location.connect({ location: server.url, quiet: true, localEngine: false });
    try {
      expect(await output(remote.node().spawnContainer(imageB, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageB]);
      const err = await remote.ensureImageUploaded(imageB).catch((e: Error) => e);
      expect(err).to.be.instanceOf(ImageNotFound);
    } finally {
      await remote.disconnect();
    }
  });

  it('examples/upload-image.ts uploads with a progress bar and runs the image', async () => {
    const example = ['--import', 'tsx', 'examples/upload-image.ts', imageD, 'cat', '/marker.txt'];
    const { stdout, stderr } = await run(process.execPath, example, { timeout: 60_000, env: { ...process.env, TFNZ_LOCATION: server.url } });
    expect(stdout.trim()).to.equal(markers[imageD]);
    expect(stderr).to.match(new RegExp(`${imageD}: 1 layer\\(s\\) uploaded, \\d+ bytes`));
  });

  it('tfnz upload shows what it sent', async () => {
    const cli = ['--import', 'tsx', 'lib/cli/main.ts', 'upload', imageC, '--location', server.url];
    const { stdout, stderr } = await run(process.execPath, cli, { timeout: 60_000 });
    expect(stdout.trim()).to.equal(`${imageC} 2 layer(s)`);
    expect(stderr).to.include(`${imageC}: already at the location`);
  });

  it('tfnz run uploads what the node lacks, saying so, and runs it', async () => {
    const cli = ['--import', 'tsx', 'lib/cli/main.ts', 'run', '--location', server.url, imageF, 'cat', '/marker.txt'];
    const first = await run(process.execPath, cli, { timeout: 60_000 });
    expect(first.stdout).to.equal(markers[imageF]);
    expect(first.stderr).to.match(new RegExp(`${imageF}: 1 layer\\(s\\), 1\\.0 MiB uploaded`));
    const again = await run(process.execPath, [...cli.slice(0, 4), '-q', ...cli.slice(4)], { timeout: 60_000 });
    expect(again.stdout).to.equal(markers[imageF]);
    expect(again.stderr, 'nothing to upload, nothing said').to.equal('');
  });

  it('an image in neither the local engine nor the cache is ImageNotFound naming it', async () => {
    const missing = `tfnz-no-such-image-${tag}`;
    const ctr = loc.node().spawnContainer(missing);
    const err = await ctr.ready().catch((e: Error) => e);
    expect(err).to.be.instanceOf(ImageNotFound);
    expect((err as Error).message).to.include(missing);
    const upload = await loc.ensureImageUploaded(missing).catch((e: Error) => e);
    expect(upload).to.be.instanceOf(ImageNotFound);
    expect((upload as Error).message).to.include(missing);
  });

  it('rejects a corrupt or cut upload and never uses it; the location carries on', async () => {
    const bytes = randomBytes(3 * 2 ** 20);
    const layer = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const eve = await rawClient(server.url);
    const parts = () => readdirSync(join(cacheDir, 'layers')).filter((f) => f.endsWith('.part'));
    try {
      await eve.request('open_session', { client: 'spec', user: 'eve' });
      const id = `sha256:${'0'.repeat(64)}`;
      const asked = (await eve.request('image_layers_missing', { id, layers: [layer] })) as ReplyFrame;
      expect(asked.result).to.deep.equal({ missing: [layer], configMissing: true });
      // Wrong bytes of the right size.
      const transfer = nanoid();
      expect((await eve.request('upload_layer', { transfer, layer, size: bytes.length })).error).to.equal(undefined);
      const wrong = Buffer.from(bytes);
      wrong[12345] ^= 1;
      for (let at = 0; at < wrong.length; at += 2 ** 20) {
        eve.send(encodeFrame({ kind: 'request', id: 0, command: 'file_data', params: { transfer }, bulk: wrong.subarray(at, at + 2 ** 20) }));
      }
      const end = (await eve.next((f) => f.kind === 'event' && f.event === 'file_end' && (f.params as { transfer: string }).transfer === transfer)) as {
        params: { error?: { code: string; message: string } };
      };
      expect(end.params.error?.code).to.equal('LAYER_CORRUPT');
      expect(server.images.hasLayer(layer)).to.equal(false);
      expect(parts()).to.deep.equal([]);
      // A description cannot name a layer the cache does not hold.
      const described = await eve.request('put_image_description', { name: 'evil', id, layers: [layer], config: Buffer.from('{}') });
      expect(described.error?.code).to.equal('BAD_REQUEST');
      // A cut: half the bytes, then the connection goes; the partial file goes with the session.
      const cut = nanoid();
      await eve.request('upload_layer', { transfer: cut, layer, size: bytes.length });
      eve.send(encodeFrame({ kind: 'request', id: 0, command: 'file_data', params: { transfer: cut }, bulk: bytes.subarray(0, 2 ** 20) }));
      await eve.next((f) => f.kind === 'event' && f.event === 'file_ack' && (f.params as { transfer: string }).transfer === cut);
      expect(parts()).to.have.length(1);
    } finally {
      eve.ws.close();
    }
    await eventually(async () => expect(parts()).to.deep.equal([]), 20_000);
    expect(server.images.hasLayer(layer)).to.equal(false);
    // And the location still serves everyone.
    expect(await output(loc.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
  });

  it('carries an upload across a network cut: the session resumes and the layer arrives once', async () => {
    const proxy = await FaultProxy.start(server.port);
    const cut = await Location.connect({ location: `127.0.0.1:${proxy.port}`, quiet: true });
    try {
      const links = lastValueFrom(linkChanges(cut).pipe(take(2), toArray()));
      void nextLink(cut, 'lost').then(() => proxy.restore());
      const before = stored();
      const layersBefore = server.images.layersStored;
      let cutAt = 0;
      let linksOpen = 0;
      await cut.ensureImageUploaded(imageE, {
        progress$: {
          next: (p) => {
            if (cutAt === 0 && p.phase === 'uploading' && p.bytesDone > 0) {
              cutAt = p.bytesDone;
              linksOpen = server.dataConnectionCount;
              proxy.cut();
            }
          },
        },
      });
      expect(await links).to.deep.equal(['lost', 'resumed']);
      expect(linksOpen, 'the layer was on a data connection of its own (#17) when the network failed').to.be.at.least(1);
      expect(cutAt, 'cut in the middle of the layer').to.be.greaterThan(0).and.lessThan(24 * 2 ** 20);
      expect(server.images.layersStored - layersBefore).to.equal(1);
      expect(stored() - before).to.be.within(24 * 2 ** 20, 24 * 2 ** 20 + 64 * 1024);
      expect(await output(cut.node().spawnContainer(imageE, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageE]);
    } finally {
      await cut.disconnect();
      await proxy.close();
    }
  });

  it('uploads on the session\'s WebSocket to a location that takes no data connections', async () => {
    const plainCache = mkdtempSync(join(tmpdir(), 'tfnz-cache-'));
    const plain = await LocationServer.start({ name: `${name}-plain`, port: 0, engines: [new DockerEngine(nodeEngineAddress(ENGINES[0]))], cacheDir: plainCache, dataConnections: false });
    const viaWebSocket = await Location.connect({ location: plain.url, quiet: true });
    try {
      const a = await localImage(imageA);
      expect(await viaWebSocket.ensureImageUploaded(imageA)).to.deep.equal(a.RootFS.Layers);
      expect(plain.images.layersStored).to.equal(a.RootFS.Layers!.length);
      expect(plain.images.bytesStored).to.be.greaterThan(8 * 2 ** 20);
    } finally {
      await viaWebSocket.disconnect();
      await plain.close();
      rmSync(plainCache, { recursive: true, force: true });
    }
  });

  it('keeps the cache across a location restart', async () => {
    await loc.disconnect();
    await server.close();
    // The node forgets the image: only the cache can bring it back.
    const a = await localImage(imageA);
    await node.getImage(a.Id).remove({ force: true });
    server = await LocationServer.start({ name, port: 0, engines: [new DockerEngine(nodeEngineAddress(ENGINES[0]))], cacheDir, sessionGraceMs: 2000 });
    loc = await Location.connect({ location: server.url, quiet: true });
    const remote = await Location.connect({ location: server.url, quiet: true, localEngine: false });
    try {
      expect(await output(remote.node().spawnContainer(imageA, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageA]);
      expect(await output(loc.node().spawnContainer(imageC, { command: ['cat', '/marker.txt'] }))).to.equal(markers[imageC]);
      expect(stored(), 'nothing uploaded after the restart').to.equal(0);
    } finally {
      await remote.disconnect();
    }
  });

  it('prunes unused layers, then everything, while a container from the cache keeps running', async () => {
    const ctr = loc.node().spawnContainer(imageA, { command: ['sleep', '600'] });
    await ctr.ready();
    // An orphan layer: uploaded, but no description uses it.
    const bytes = randomBytes(2 ** 20);
    const layer = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const sink = server.images.layerSink(loc.state.user!, layer, bytes.length);
    await sink.write(bytes);
    await sink.finish();
    // The command, on the cache of a running location.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'location', 'prune', '--cache-dir', cacheDir], { timeout: 60_000 });
    expect(stdout).to.match(/removed 0 description\(s\), 1 layer\(s\)/);
    expect(server.images.hasLayer(layer)).to.equal(false);
    expect(server.images.hasLayer((await localImage(imageA)).RootFS.Layers![1])).to.equal(true);

    const everything = server.images.prune(true);
    expect(everything.descriptions).to.be.at.least(3);
    expect(readdirSync(join(cacheDir, 'layers'))).to.deep.equal([]);
    expect(ctr.status).to.equal('running');
    expect((await ctr.runProcess('cat /marker.txt')).stdout.toString()).to.equal(markers[imageA]);
    // Without the cache the local engine's copy is uploaded again when a node lacks it.
    expect(await firstValueFrom(ctr.status$)).to.equal('running');
    await loc.node().destroyContainer(ctr);
  });
});
