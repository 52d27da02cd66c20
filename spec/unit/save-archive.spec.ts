import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { readSaveArchive, v1LayerPosition, walkSaveArchive, type SaveArchiveOptions } from '../../lib/shared/save-archive';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const layerA = Buffer.from('layer a contents');
const layerB = Buffer.from('layer b, other contents');
const config = Buffer.from(JSON.stringify({ rootfs: { diff_ids: [sha(layerA), sha(layerB)] } }));
const imageId = sha(config);

/** A `docker save` archive of the image in either layout, as a readable stream. */
function archive(layout: 'docker-24' | 'oci', extra: Array<[string, Buffer]> = []): () => Promise<NodeJS.ReadableStream> {
  const entries: Array<[string, Buffer]> = layout === 'oci'
    ? [['index.json', Buffer.from('{}')], [`blobs/sha256/${imageId.slice(7)}`, config],
       [`blobs/sha256/${sha(layerA).slice(7)}`, layerA], [`blobs/sha256/${sha(layerB).slice(7)}`, layerB]]
    : [['manifest.json', Buffer.from('[]')], [`${imageId.slice(7)}.json`, config],
       ['v1a/layer.tar', layerA], ['v1b/layer.tar', layerB], ['v1c/layer.tar', layerA]];
  return async () => {
    const pack = tar.pack();
    for (const [name, body] of [...entries, ...extra]) pack.entry({ name }, body);
    pack.finalize();
    return pack as unknown as NodeJS.ReadableStream;
  };
}

describe('reading a docker save archive', () => {
  let dir: string;
  let n = 0;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tfnz-save-')); });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const options = (o: Partial<SaveArchiveOptions> = {}): SaveArchiveOptions =>
    ({ imageId, spool: () => true, keep: () => true, spoolPath: () => join(dir, `${n++}`), feature: 'a spec', ...o });

  for (const layout of ['docker-24', 'oci'] as const) {
    it(`${layout}: keeps the config and each layer once, under its sha256, with its bytes`, async () => {
      const { config: read, layers } = await readSaveArchive(archive(layout), options());
      expect(read?.equals(config)).to.equal(true);
      expect([...layers.keys()].sort()).to.deep.equal([sha(layerA), sha(layerB)].sort());
      expect(await readFile(layers.get(sha(layerB))!.path)).to.deep.equal(layerB);
      expect(layers.get(sha(layerA))!.size).to.equal(layerA.length);
      // The repeated layer's second copy is not left behind.
      expect(await readdir(dir)).to.have.length(2);
    });

    it(`${layout}: spools and keeps only the layers asked for`, async () => {
      const wanted = new Set([sha(layerB)]);
      const { layers } = await readSaveArchive(archive(layout), options({
        spool: (named, found) => (named === undefined || wanted.has(named)) && found.size < wanted.size,
        keep: (layer) => wanted.has(layer),
      }));
      expect([...layers.keys()]).to.deep.equal([sha(layerB)]);
      expect(await readdir(dir)).to.deep.equal([layers.get(sha(layerB))!.path.slice(dir.length + 1)]);
    });
  }

  it('says there is no config when the archive lacks the image\'s', async () => {
    const { config: read } = await readSaveArchive(archive('oci'), options({ imageId: sha(Buffer.from('another image')) }));
    expect(read).to.equal(undefined);
  });

  it('removes every spooled file, kept ones too, when the archive is cut short', async () => {
    const chunks: Buffer[] = [];
    for await (const c of (await archive('docker-24')()) as AsyncIterable<Buffer>) chunks.push(c);
    const whole = Buffer.concat(chunks);
    // Two layers are kept by then; the cut falls a few bytes into the last layer's data
    // (each entry's data is one 512-byte block, and the archive ends with two empty ones).
    const cut = async () => Readable.from([whole.subarray(0, whole.length - 1024 - 500)]);
    const kept: string[] = [];
    const failed = await readSaveArchive(cut, options({ keep: (layer) => !!kept.push(layer) })).catch((err: unknown) => err);
    expect(failed).to.be.instanceOf(Error);
    expect(kept).to.have.length(2);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  // #17: a Docker <= 24 layer its json places at the bottom or top of the stack needs no hashing to be named.
  it('names a docker-24 layer by its json: no parent is the bottom, the image config is the top, others unnamed', async () => {
    const layerC = Buffer.from('layer c, in between');
    const layers = [sha(layerA), sha(layerC), sha(layerB)];
    const hex = (c: string) => c.repeat(64);
    const json = (o: object) => Buffer.from(JSON.stringify(o));
    const entries: Array<[string, Buffer]> = [
      [`${hex('a')}/json`, json({ id: hex('a'), created: '2026-01-01T00:00:00Z', container_config: {} })], [`${hex('a')}/layer.tar`, layerA],
      [`${hex('b')}/json`, json({ id: hex('b'), parent: hex('c'), config: { Cmd: ['sh'] }, docker_version: '20.10' })], [`${hex('b')}/layer.tar`, layerB],
      [`${hex('c')}/json`, json({ id: hex('c'), parent: hex('a'), container_config: {} })], [`${hex('c')}/layer.tar`, layerC],
      [`${imageId.slice(7)}.json`, config],
    ];
    const named: Array<string | undefined> = [];
    await walkSaveArchive(async () => {
      const pack = tar.pack();
      for (const [name, body] of entries) pack.entry({ name }, body);
      pack.finalize();
      return pack as unknown as NodeJS.ReadableStream;
    }, { imageId, layers, feature: 'a spec', onLayer: async (l) => void named.push(l.named) });
    expect(named).to.deep.equal([layers[0], layers[2], undefined]);
    expect(v1LayerPosition(json({ config: { Cmd: ['sh'] } }), 1), 'a lone layer with no parent is the bottom').to.equal(0);
    expect(v1LayerPosition(json({ config: { Cmd: ['sh'] } }), 2), 'no parent yet the image config: says neither').to.equal(undefined);
    expect(v1LayerPosition(Buffer.from('not json'), 2)).to.equal(undefined);
  });
  // #17: Docker <= 24 ends its export's response only after it removed its staging directory.
  it('ends the walk once it has enough (every wanted layer and the config), without waiting for the archive to end', async () => {
    const pack = tar.pack();
    for (const [name, body] of [[`${imageId.slice(7)}.json`, config], ['v1a/layer.tar', layerA], ['v1b/layer.tar', layerB]] as const) pack.entry({ name }, body);
    // Never finalized: the rest of the export is still to come when the walk has what it wants.
    let sourceDestroyed = false;
    pack.on('close', () => (sourceDestroyed = true));
    const seen: Buffer[] = [];
    const walked = await walkSaveArchive(async () => pack as unknown as NodeJS.ReadableStream, {
      imageId, feature: 'a spec',
      onLayer: async (l) => {
        const parts: Buffer[] = [];
        for await (const c of l.stream) parts.push(Buffer.from(c));
        seen.push(Buffer.concat(parts));
      },
      enough: () => seen.length === 2,
    });
    expect(walked.config?.equals(config)).to.equal(true);
    expect(seen.map(sha)).to.deep.equal([sha(layerA), sha(layerB)]);
    expect(sourceDestroyed, 'the export stops being read').to.equal(true);
  });
});
