/**
 * The location's image cache, in one directory that outlives the location process:
 *
 *   layers/<hex>.tar            a layer's `docker save` layer.tar, named by its uncompressed sha256
 *                               (its diff id); shared by every user
 *   layers/<hex>.<nonce>.part   an upload in progress; renamed into place only once its sha256 and
 *                               size are right, so a cut or corrupt upload is never used
 *   configs/<hex>.json          an image's raw config JSON, named by its sha256 (the image id)
 *   images/<user>/<name>.json   { name, id, layers }: a user's name for an image; per user, so one
 *                               user never sees (or runs by name) another's images
 *   grants/<user>/layer-<hex>   this user uploaded that layer (or config-<hex>: sent that config);
 *                               a layer is stored once, but only the users who sent its bytes may
 *                               use it, and `missing` answers per user, so nobody learns what
 *                               another user has cached (a known digest is not proof of the bytes)
 *
 * Nothing here is read by running containers (they live in the node engines), so pruning never
 * disturbs them. Directories are made on first write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { BadRequest, LayerCorrupt } from '../protocol';
import { flushBehind } from '../shared/flush-behind';
import type { FileSink } from '../engines/engine';

/** A user's name for an image, as stored. */
export interface ImageDescription {
  name: string;
  /** sha256:… of the config: the image id Docker reports. */
  id: string;
  /** Diff ids (sha256:…), bottom layer first, as the config's rootfs lists them. */
  layers: string[];
}

/** A layer upload's sink; once `finish` resolved, `digest` is what the layer verified as. */
export interface LayerSink extends FileSink {
  readonly digest: string | undefined;
}

/** What `prune` removed: counts, and the bytes freed. */
export interface PruneResult {
  descriptions: number;
  layers: number;
  configs: number;
  partials: number;
  bytes: number;
}

/** A partial upload untouched this long belongs to no live upload (prune removes it). */
const STALE_PARTIAL_MS = 10 * 60_000;
/** Longest image name accepted (Docker's own limit on a reference is 255). */
const MAX_NAME = 255;

const hex = (digest: string) => digest.slice('sha256:'.length);

/** The location's cache of uploaded image layers and configs, on disk. */
export class LayerCache {
  /** Layer bytes accepted into the cache since this process started (uploads that verified). */
  bytesStored = 0;
  layersStored = 0;

  constructor(readonly dir: string) {}

  private path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  private ensureDir(...parts: string[]): string {
    const dir = this.path(...parts);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** The file of a cached layer. */
  layerPath(layer: string): string {
    return this.path('layers', `${hex(layer)}.tar`);
  }

  /** Whether the layer is cached. */
  hasLayer(layer: string): boolean {
    return existsSync(this.layerPath(layer));
  }

  /** Whether the image config is cached. */
  hasConfig(id: string): boolean {
    return existsSync(this.path('configs', `${hex(id)}.json`));
  }

  private grantPath(user: string, kind: 'layer' | 'config', digest: string): string {
    return this.path('grants', userDir(user), `${kind}-${hex(digest)}`);
  }

  private grant(user: string, kind: 'layer' | 'config', digest: string): void {
    this.ensureDir('grants', userDir(user));
    writeFileSync(this.grantPath(user, kind, digest), '');
  }

  /** `user` sent this layer's bytes (and they are still cached). */
  userHasLayer(user: string, layer: string): boolean {
    return this.hasLayer(layer) && existsSync(this.grantPath(user, 'layer', layer));
  }

  /** `user` sent this config (and it is still cached). */
  userHasConfig(user: string, id: string): boolean {
    return this.hasConfig(id) && existsSync(this.grantPath(user, 'config', id));
  }

  /** The cached image config. */
  config(id: string): Buffer {
    return readFileSync(this.path('configs', `${hex(id)}.json`));
  }

  /** The distinct layers of `layers` that `user` has not uploaded (whoever else did), in order. */
  missing(user: string, layers: string[]): string[] {
    return [...new Set(layers)].filter((l) => !this.userHasLayer(user, l));
  }

  /**
   * Where an upload of `layer` (`size` bytes) goes: hashed as it is written, renamed into place
   * only if the digest and size match. Each upload has its own partial file, so two sessions
   * sending the same layer at once do not mix their bytes. A layer another user stored already is
   * checked the same way and then kept once: this upload only grants `user` the use of it.
   * Without `layer` (a sender streaming a layer it has not hashed yet) the bytes are kept under
   * their own sha256: whoever sent them holds them, which is all a grant says.
   */
  layerSink(user: string, layer: string | undefined, size: number): LayerSink {
    const dir = this.ensureDir('layers');
    const partial = join(dir, `${layer ? hex(layer) : 'unnamed'}.${randomBytes(6).toString('hex')}.part`);
    const hash = createHash('sha256');
    let written = 0;
    let handle: Promise<FileHandle> | undefined;
    const file = () => (handle ??= open(partial, 'w', 0o600));
    let digest: string | undefined;
    const flush = flushBehind(async () => (await file()).datasync());
    return {
      get digest() {
        return digest;
      },
      write: async (chunk) => {
        hash.update(chunk);
        written += chunk.length;
        const fh = await file();
        await fh.write(chunk);
        flush.wrote(chunk.length);
      },
      finish: async () => {
        const fh = await file();
        await flush.settled();
        await fh.close();
        const got = `sha256:${hash.digest('hex')}`;
        if (written !== size || (layer !== undefined && got !== layer)) {
          rmSync(partial, { force: true });
          throw new LayerCorrupt(`layer ${(layer ?? got).slice(0, 19)}… arrived as ${written} bytes with digest ${got.slice(0, 19)}… (expected ${size} bytes); it was discarded, upload it again`);
        }
        this.adoptLayer(user, partial, got, size);
        digest = got;
      },
      abort: () =>
        (handle ?? Promise.resolve(undefined))
          .then((fh) => fh?.close())
          .catch(() => undefined)
          .finally(() => rmSync(partial, { force: true })),
    };
  }

  /** A fresh partial file in the layers directory, for a layer the location makes itself (adoptLayer). */
  partialLayerPath(): string {
    return join(this.ensureDir('layers'), `adopted.${randomBytes(6).toString('hex')}.part`);
  }

  /**
   * Keep a layer the location itself took from a node (an image built there), `partial` having
   * been hashed to `layer` on the way: renamed into place (or dropped when cached already), and
   * `user`, whose build made or used it, may use it.
   */
  adoptLayer(user: string, partial: string, layer: string, size: number): void {
    if (this.hasLayer(layer)) rmSync(partial, { force: true });
    else {
      renameSync(partial, this.layerPath(layer));
      this.bytesStored += size;
      this.layersStored++;
    }
    this.grant(user, 'layer', layer);
  }

  /** Keep an image's config for `user`, checking that it is the image `id` and lists `layers`. */
  putConfig(user: string, id: string, config: Uint8Array, layers: string[]): void {
    verifyConfig(id, config, layers);
    const dir = this.ensureDir('configs');
    const tmp = join(dir, `${hex(id)}.${randomBytes(6).toString('hex')}.part`);
    writeFileSync(tmp, config, { mode: 0o600 });
    renameSync(tmp, join(dir, `${hex(id)}.json`));
    this.grant(user, 'config', id);
  }

  /** Record `name` for `user`; `user` must have sent every layer and the config already. */
  putDescription(user: string, d: ImageDescription): void {
    if (typeof d.name !== 'string' || d.name === '' || d.name.length > MAX_NAME) throw new BadRequest(`'name' must be 1 to ${MAX_NAME} characters`);
    if (!this.userHasConfig(user, d.id)) throw new BadRequest(`you have not sent the config of image ${d.id}; send it with the description`);
    checkRootfs(this.config(d.id), d.layers);
    const absent = this.missing(user, d.layers);
    if (absent.length) throw new BadRequest(`${absent.length} layer(s) of '${d.name}' are not among your uploads (${absent[0].slice(0, 19)}…); upload them first`);
    const dir = this.ensureDir('images', userDir(user));
    const file = join(dir, nameFile(d.name));
    const tmp = `${file}.${randomBytes(6).toString('hex')}.part`;
    writeFileSync(tmp, JSON.stringify({ name: d.name, id: d.id, layers: d.layers }), { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** `user`'s description for `name`, if it is whole (its config and layers still cached and theirs). */
  description(user: string, name: string): ImageDescription | undefined {
    const file = this.path('images', userDir(user), nameFile(name));
    return existsSync(file) ? this.whole(user, file) : undefined;
  }

  /** A whole description of `user` for the image `id`, whatever its name. */
  descriptionById(user: string, id: string): ImageDescription | undefined {
    const dir = this.path('images', userDir(user));
    if (!existsSync(dir)) return undefined;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      const d = this.whole(user, join(dir, f));
      if (d?.id === id) return d;
    }
    return undefined;
  }

  private whole(user: string, file: string): ImageDescription | undefined {
    try {
      const d = JSON.parse(readFileSync(file, 'utf8')) as ImageDescription;
      return this.userHasConfig(user, d.id) && this.missing(user, d.layers).length === 0 ? d : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The image as a `docker load` archive, streamed from the cache: each layer once as
   * `<hex>/layer.tar`, the config, and manifest.json (untagged: the node never shows a user's name).
   * The files of the bottom `skip` layers are left out: the engine has that stack already and
   * `docker load` reads a layer's file only when it lacks the layer.
   */
  archive(d: ImageDescription, skip = 0): NodeJS.ReadableStream {
    const pack = tar.pack();
    const config = this.config(d.id);
    void (async () => {
      try {
        const entry = (name: string, data: Buffer) => new Promise<void>((resolve, reject) => pack.entry({ name }, data, (err) => (err ? reject(err) : resolve())));
        await entry(`${hex(d.id)}.json`, config);
        for (const layer of new Set(d.layers.filter((l, i) => i >= skip || d.layers.indexOf(l, skip) >= skip))) {
          const path = this.layerPath(layer);
          const size = statSync(path).size;
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ name: `${hex(layer)}/layer.tar`, size }, (err) => (err ? reject(err) : resolve()));
            const source = createReadStream(path);
            source.on('error', (err) => {
              sink.destroy(err);
              reject(err);
            });
            source.pipe(sink);
          });
        }
        const manifest = [{ Config: `${hex(d.id)}.json`, RepoTags: null, Layers: d.layers.map((l) => `${hex(l)}/layer.tar`) }];
        await entry('manifest.json', Buffer.from(JSON.stringify(manifest)));
        pack.finalize();
      } catch (err) {
        pack.destroy(err as Error);
      }
    })();
    return pack as unknown as NodeJS.ReadableStream;
  }

  /**
   * Remove layers and configs no description uses, and partial uploads nobody has touched for 10
   * minutes; with `all`, every description first (so everything unused by an upload in progress).
   */
  prune(all = false): PruneResult {
    const result: PruneResult = { descriptions: 0, layers: 0, configs: 0, partials: 0, bytes: 0 };
    const usedLayers = new Set<string>();
    const usedConfigs = new Set<string>();
    const images = this.path('images');
    for (const user of existsSync(images) ? readdirSync(images) : []) {
      for (const f of readdirSync(join(images, user))) {
        const file = join(images, user, f);
        if (f.endsWith('.part')) {
          if (stale(file)) rmSync(file, { force: true });
          continue;
        }
        if (all) {
          rmSync(file, { force: true });
          result.descriptions++;
          continue;
        }
        try {
          const d = JSON.parse(readFileSync(file, 'utf8')) as ImageDescription;
          d.layers.forEach((l) => usedLayers.add(hex(l)));
          usedConfigs.add(hex(d.id));
        } catch {
          rmSync(file, { force: true }); // unreadable: it could never be used
          result.descriptions++;
        }
      }
    }
    for (const [sub, used, ext, key] of [['layers', usedLayers, '.tar', 'layers'], ['configs', usedConfigs, '.json', 'configs']] as const) {
      const dir = this.path(sub);
      for (const f of existsSync(dir) ? readdirSync(dir) : []) {
        const file = join(dir, f);
        const partial = f.endsWith('.part');
        if (partial ? !stale(file) : used.has(f.slice(0, -ext.length))) continue;
        const { size } = statSync(file);
        rmSync(file, { force: true });
        result.bytes += size;
        if (partial) result.partials++;
        else result[key]++;
      }
    }
    // Grants of what is gone (all of them with `all`): re-uploading must grant it again.
    const grants = this.path('grants');
    for (const user of existsSync(grants) ? readdirSync(grants) : []) {
      for (const f of readdirSync(join(grants, user))) {
        const [kind, digest] = f.split('-');
        const kept = kind === 'layer' ? this.hasLayer(`sha256:${digest}`) : this.hasConfig(`sha256:${digest}`);
        if (all || !kept) rmSync(join(grants, user, f), { force: true });
      }
    }
    return result;
  }
}

/** A directory name for a user: a hash, so any user id is safe as a file name. */
function userDir(user: string): string {
  return createHash('sha256').update(user).digest('hex').slice(0, 32);
}

/** A description's file name: the name itself, escaped, or its hash when that would be too long. */
function nameFile(name: string): string {
  const escaped = encodeURIComponent(name);
  return escaped.length <= 200 ? `${escaped}.json` : `${createHash('sha256').update(name).digest('hex')}.json`;
}

function stale(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > STALE_PARTIAL_MS;
  } catch {
    return false;
  }
}

/** The config must list exactly `layers` as its rootfs diff ids (Docker refuses the image otherwise). */
/** BadRequest unless `config` is the config of image `id` (its sha256) and lists exactly `layers`. */
export function verifyConfig(id: string, config: Uint8Array, layers: string[]): void {
  const got = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  if (got !== id) throw new BadRequest(`the config's digest is ${got}, not the image id ${id}`);
  checkRootfs(config, layers);
}

function checkRootfs(config: Uint8Array, layers: string[]): void {
  let diffIds: unknown;
  try {
    diffIds = (JSON.parse(Buffer.from(config).toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
  } catch {
    throw new BadRequest('the image config is not JSON');
  }
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length || diffIds.some((d, i) => d !== layers[i])) {
    throw new BadRequest("the image config's rootfs does not list the given layers");
  }
}

