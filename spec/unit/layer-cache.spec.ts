import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequest, LayerCorrupt } from '../../lib/protocol';
import { LayerCache } from '../../lib/server/layer-cache';

const digest = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The layer cache on a temporary directory: verification, descriptions per user, pruning. */
describe('LayerCache', () => {
  let dir: string;
  let cache: LayerCache;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfnz-cache-unit-'));
    cache = new LayerCache(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function store(bytes: Buffer, user = 'ann'): Promise<string> {
    const layer = digest(bytes);
    const sink = cache.layerSink(user, layer, bytes.length);
    for (let at = 0; at < bytes.length; at += 1000) await sink.write(bytes.subarray(at, at + 1000));
    await sink.finish();
    return layer;
  }

  function image(layers: string[]): { id: string; config: Buffer; layers: string[] } {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', rootfs: { type: 'layers', diff_ids: layers } }));
    return { id: digest(config), config, layers };
  }

  it('keeps a layer only when its digest and size match', async () => {
    const bytes = randomBytes(5000);
    const layer = await store(bytes);
    expect(cache.hasLayer(layer)).to.equal(true);
    expect(cache.missing('ann', [layer, layer])).to.deep.equal([]);
    const other = randomBytes(5000);
    const claimed = digest(other);
    const wrong = cache.layerSink('ann', claimed, other.length);
    await wrong.write(bytes);
    const err = await wrong.finish().catch((e: Error) => e);
    expect(err).to.be.instanceOf(LayerCorrupt);
    const short = cache.layerSink('ann', claimed, other.length);
    await short.write(other.subarray(0, 10));
    expect(await short.finish().catch((e: Error) => e)).to.be.instanceOf(LayerCorrupt);
    expect(cache.missing('ann', [claimed])).to.deep.equal([claimed]);
    expect(readdirSync(join(dir, 'layers'))).to.deep.equal([`${layer.slice(7)}.tar`]);
  });

  it('keeps a layer sent without its digest under the sha256 of what arrived, for its sender only', async () => {
    const bytes = randomBytes(5000);
    const sink = cache.layerSink('ann', undefined, bytes.length);
    for (let at = 0; at < bytes.length; at += 1000) await sink.write(bytes.subarray(at, at + 1000));
    await sink.finish();
    expect(cache.missing('ann', [digest(bytes)])).to.deep.equal([]);
    expect(cache.missing('bob', [digest(bytes)]), 'another user must send it himself').to.deep.equal([digest(bytes)]);
    const short = cache.layerSink('ann', undefined, 100);
    await short.write(bytes.subarray(0, 10));
    expect(await short.finish().catch((e: Error) => e)).to.be.instanceOf(LayerCorrupt);
    expect(readdirSync(join(dir, 'layers'))).to.deep.equal([`${digest(bytes).slice(7)}.tar`]);
  });

  it('an aborted upload leaves nothing behind', async () => {
    const bytes = randomBytes(3000);
    const sink = cache.layerSink('ann', digest(bytes), bytes.length);
    await sink.write(bytes.subarray(0, 100));
    await sink.abort();
    expect(readdirSync(join(dir, 'layers'))).to.deep.equal([]);
  });

  it('describes images per user, only when whole and consistent', async () => {
    const layers = [await store(randomBytes(100)), await store(randomBytes(200))];
    const { id, config } = image(layers);
    expect(() => cache.putConfig('ann', id, Buffer.concat([config, Buffer.from(' ')]), layers)).to.throw(BadRequest, /digest/);
    expect(() => cache.putConfig('ann', id, config, [layers[0]])).to.throw(BadRequest, /rootfs/);
    expect(() => cache.putDescription('ann', { name: 'app', id, layers })).to.throw(BadRequest, /not sent the config/);
    cache.putConfig('ann', id, config, layers);
    const absent = digest(Buffer.from('absent'));
    const other = image([layers[0], absent]);
    cache.putConfig('ann', other.id, other.config, other.layers);
    expect(() => cache.putDescription('ann', { name: 'x', id: other.id, layers: other.layers })).to.throw(BadRequest, /not among your uploads/);
    cache.putDescription('ann', { name: 'app:1.0', id, layers });
    expect(cache.description('ann', 'app:1.0')).to.deep.equal({ name: 'app:1.0', id, layers });
    expect(cache.descriptionById('ann', id)?.name).to.equal('app:1.0');
    const long = `team/app/${'a'.repeat(200)}:${'b'.repeat(30)}`.slice(0, 255);
    cache.putDescription('ann', { name: long, id, layers });
    expect(cache.description('ann', long)?.name).to.equal(long);
    expect(cache.description('bob', 'app:1.0')).to.equal(undefined);
    expect(cache.descriptionById('bob', id)).to.equal(undefined);
  });

  it('answers per user: another user\'s layers count as missing until they send the bytes, which are stored once', async () => {
    const bytes = randomBytes(4000);
    const layer = await store(bytes, 'ann');
    const { id, config } = image([layer]);
    cache.putConfig('ann', id, config, [layer]);
    cache.putDescription('ann', { name: 'app', id, layers: [layer] });
    // Bob knows the digests, not the bytes: nothing tells him Ann cached them, and he may not use them.
    expect(cache.missing('bob', [layer])).to.deep.equal([layer]);
    expect(cache.userHasConfig('bob', id)).to.equal(false);
    expect(() => cache.putDescription('bob', { name: 'stolen', id, layers: [layer] })).to.throw(BadRequest, /not sent the config/);
    cache.putConfig('bob', id, config, [layer]);
    expect(() => cache.putDescription('bob', { name: 'stolen', id, layers: [layer] })).to.throw(BadRequest, /not among your uploads/);
    expect(cache.descriptionById('bob', id)).to.equal(undefined);
    // Bob uploads the same bytes: they are checked, kept once, and his to use.
    const storedBefore = cache.bytesStored;
    await store(bytes, 'bob');
    expect(cache.bytesStored, 'stored once').to.equal(storedBefore);
    expect(readdirSync(join(dir, 'layers'))).to.deep.equal([`${layer.slice(7)}.tar`]);
    expect(cache.missing('bob', [layer])).to.deep.equal([]);
    cache.putDescription('bob', { name: 'mine', id, layers: [layer] });
    expect(cache.descriptionById('bob', id)?.name).to.equal('mine');
  });

  it('prunes unused layers and stale partials, and everything with all', async () => {
    const used = await store(randomBytes(100));
    const unused = await store(randomBytes(300));
    const { id, config } = image([used]);
    cache.putConfig('ann', id, config, [used]);
    cache.putDescription('ann', { name: 'app', id, layers: [used] });
    const fresh = join(dir, 'layers', 'abc.123.part');
    const stale = join(dir, 'layers', 'def.456.part');
    writeFileSync(fresh, 'x');
    writeFileSync(stale, 'y');
    const old = new Date(Date.now() - 3600_000);
    utimesSync(stale, old, old);
    expect(cache.prune()).to.deep.equal({ descriptions: 0, layers: 1, configs: 0, partials: 1, bytes: 301 });
    expect(cache.hasLayer(used)).to.equal(true);
    expect(cache.hasLayer(unused)).to.equal(false);
    const all = cache.prune(true);
    expect(all).to.include({ descriptions: 1, layers: 1, configs: 1, partials: 0 });
    expect(readdirSync(join(dir, 'layers'))).to.deep.equal(['abc.123.part']); // an upload in progress stays
    expect(cache.description('ann', 'app')).to.equal(undefined);
  });
});
