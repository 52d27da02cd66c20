/**
 * Loading an uploaded image into the location's nodes while its layers arrive (#17): a spawn
 * that follows an upload then finds the image on its node, or waits only for what `docker load`
 * does after its input ends, instead of starting a whole load from the cache.
 *
 * One preload per image upload of a session: image_layers_missing starts one `docker load` per
 * live node (at most PRELOAD_NODES) and each upload_layer feeds it: a layer the sender named goes
 * into the loads of the nodes that lack it as its bytes are written to the cache; one it did not
 * name (a Docker <= 24 export, hashed only on the way, so perhaps a layer the node has) goes live
 * only to nodes that share no layer with the image, and to the others from the cache once
 * verified, while the next layer arrives. put_image_description (the config known,
 * every layer verified) finishes it: what the node still lacks from the cache, then the config and
 * the manifest. Until that manifest, which only a whole, verified upload writes, the node has
 * nothing it could load; a cut, refused or ambiguous upload ends the stream with bytes that are no
 * tar, so `docker load` fails and keeps nothing. Whatever the preload cannot do it gives up
 * quietly: the spawn then loads from the cache as before (image-resolver.ts).
 *
 * A node whose missing layers are all in while the upload still sends others (a Docker <= 24
 * export is in name order, so the layer a node lacks often comes before the bottom layers it has)
 * need not wait for the config, which Docker <= 24 puts anywhere in that order: its load ends at
 * once with a placeholder image, a config of our own that lists only the layers (docker load checks
 * each against it), so the node applies them while the rest arrives. The whole upload then loads
 * just the config and manifest (docker load skips a layer it holds) and removes the placeholder;
 * one that never becomes whole removes the placeholder and with it the layers.
 *
 * When the sender gave the config early (the `image_config` message, as soon as its export had
 * it), such a node's load ends with the image itself instead, and one already sealed with a
 * placeholder loads the image at once: the spawn after the upload then finds it there. The image is
 * untagged, so only the cache's grants reach it (image-resolver.ts), and those come with the whole
 * upload; one that never becomes whole removes it again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import tar from 'tar-stream';
import type { Engine } from '../engines/engine';
import { verifyConfig, type LayerCache } from './layer-cache';

/** Nodes loaded ahead of a spawn, at most: each gets its own copy of the upload's bytes. */
export const PRELOAD_NODES = 4;

/** A preload whose upload sends nothing for this long was abandoned (the client gave up): it ends. */
const PRELOAD_IDLE_MS = 10 * 60_000;

/** Not a tar header: ends a cut stream so that `docker load` fails instead of loading part of it. */
const NOT_A_TAR = Buffer.alloc(1024, 0x2a);

/** One layer's upload as the preload sees it; never rejects (a failing preload detaches). */
export interface LayerTee {
  write(chunk: Uint8Array): Promise<void>;
  /** The layer verified as `digest` and is in the cache. */
  done(digest: string): void;
  /** The layer did not arrive whole: the preload gives up. */
  fail(): void;
}

/** One node's `docker load` of the image being uploaded; its entries are written one job at a time. */
class NodeLoad {
  private readonly pack = tar.pack();
  private readonly body = new PassThrough();
  private queue: Promise<void> = Promise.resolve();
  /** Layers (diff ids) in this node's stream, and their entry names. */
  readonly written = new Map<string, string>();
  /** The bottom layers the node has already (as one of its images' stack): never sent to it. */
  skip = 0;
  private entry?: Writable;
  /** The stream ends no more entries once finalized. */
  private finalized = false;
  failed = false;
  /** Its load was ended before the upload's end, every layer it lacked being in (sealIfReady). */
  sealed = false;
  /** The placeholder image that load ends with, when the image's config was not known yet. */
  placeholder?: string;
  /** The image itself, loaded before the upload's end (early config): whether its load took. */
  early?: Promise<boolean>;
  /** Settles when `docker load` answered (or failed); never rejects. */
  readonly loaded: Promise<boolean>;

  constructor(readonly engine: Engine) {
    // Pumped by hand, not piped: an aborted load must stop the pack's bytes before its garbage ends the body.
    this.pack.on('data', (chunk: unknown) => {
      if (this.failed) return;
      if (!this.body.write(chunk as Buffer)) {
        this.pack.pause();
        this.body.once('drain', () => this.pack.resume());
      }
    });
    this.pack.on('end', () => {
      if (!this.failed) this.body.end();
    });
    this.pack.on('error', () => undefined);
    this.body.on('error', () => undefined);
    this.loaded = engine.loadImage(this.body).then(() => true, () => false).finally(() => {
      this.failed = true;
    });
  }

  /** Whether the node lacks `layer` (it is not in the stack the node has, nor sent yet). */
  lacks(layers: string[], layer: string): boolean {
    return layers.indexOf(layer, this.skip) >= this.skip && !this.written.has(layer);
  }

  /** Run `job` once everything queued before it is written; a failing job ends this node's load. */
  enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.failed ? undefined : job())).catch(() => this.abort());
    this.queue = run;
    return run;
  }

  /** Start an entry of `size` bytes. */
  begin(name: string, size: number): void {
    if (this.failed || this.finalized) return;
    this.entry = this.pack.entry({ name, size }, () => undefined) as unknown as Writable;
  }

  /** Write into the current entry, waiting while the node is behind (or until its load ended). */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.failed || !this.entry) return;
    if (!this.entry.write(chunk)) await Promise.race([once(this.entry, 'drain').catch(() => undefined), this.loaded]);
  }

  /** The current entry is complete. */
  end(): void {
    this.entry?.end();
    this.entry = undefined;
  }

  /** A cached layer as an entry. */
  async file(layer: string, path: string): Promise<void> {
    const name = `${hex(layer)}/layer.tar`;
    this.begin(name, (await stat(path)).size);
    for await (const chunk of createReadStream(path)) await this.write(chunk as Buffer);
    this.end();
    this.written.set(layer, name);
  }

  /** A small entry held in memory. */
  async small(name: string, data: Buffer): Promise<void> {
    this.begin(name, data.length);
    await this.write(data);
    this.end();
  }

  /** No more entries: `docker load` may load the image. */
  finalize(): void {
    if (this.failed || this.finalized) return;
    this.finalized = true;
    this.pack.finalize();
  }

  /** End the stream with bytes that are no tar, so `docker load` refuses all of it. */
  abort(): void {
    if (this.failed) return;
    this.failed = true;
    this.body.end(NOT_A_TAR);
    this.pack.destroy();
  }
}

export class ImagePreload {
  private readonly nodes: Promise<NodeLoad[]>;
  private active = false;
  private abandoned = false;
  /** put_image_description came: no node is sealed with a placeholder any more. */
  private finishing = false;
  /** The image's config, when the sender gave it before the upload's end (takeConfig). */
  private config?: Buffer;
  /** Layers the upload has yet to deliver (those image_layers_missing named, less those verified since). */
  private readonly awaited: Set<string>;
  private unnamed = 0;
  /** Verified unnamed layers being queued for the nodes: finish comes after them. */
  private feeding: Promise<void> = Promise.resolve();
  private readonly idle = setTimeout(() => this.abort(), PRELOAD_IDLE_MS).unref();

  /** `layers`: the image's diff ids (bottom first), as image_layers_missing named them; `missing`: those the upload sends. */
  constructor(private readonly cache: LayerCache, engines: Engine[], readonly id: string, private readonly layers: string[], missing: string[]) {
    this.awaited = new Set(missing);
    this.nodes = Promise.all(engines.slice(0, PRELOAD_NODES).map((e) => this.node(e))).then((n) => n.filter((x) => x !== undefined));
    this.nodes.catch(() => undefined);
  }

  /** A node's load, unless the node has the image already; its skip is the stack it shares. */
  private async node(engine: Engine): Promise<NodeLoad | undefined> {
    try {
      if (await engine.imageId(this.id)) return undefined;
      const stacks = await engine.imageLayerStacks();
      const load = new NodeLoad(engine);
      for (const stack of stacks) {
        let k = 0;
        while (k < stack.length && k < this.layers.length && stack[k] === this.layers[k]) k++;
        load.skip = Math.max(load.skip, k);
      }
      return load;
    } catch {
      return undefined;
    }
  }

  /** The nodes whose load still takes entries. */
  private async live(): Promise<NodeLoad[]> {
    return (await this.nodes).filter((n) => !n.failed && !n.sealed);
  }

  /**
   * The image's config before the upload's end (image_config): nodes sealed from now on load the
   * image itself, and those sealed with a placeholder load it now. BadRequest unless it is the
   * config of this image and its layers.
   */
  takeConfig(config: Buffer): void {
    verifyConfig(this.id, config, this.layers);
    if (this.abandoned || this.finishing || this.config) return;
    this.config = config;
    void this.nodes.then((nodes) => {
      for (const n of nodes) if (n.placeholder && !n.early) n.early = this.loadImage(n, config);
    }, () => undefined);
  }

  /**
   * End `n`'s load once it has every layer it lacked while the upload still sends others: the node
   * applies them now instead of at the upload's end. With the image's config known (takeConfig),
   * under the image itself; otherwise under a placeholder image. Not for the upload's last layer
   * (the config follows at once) nor on an engine that cannot remove what it loaded.
   */
  private sealIfReady(n: NodeLoad): void {
    if (this.finishing || this.abandoned || n.failed || n.sealed || this.awaited.size === 0 || !n.engine.removeImage) return;
    if (this.layers.some((l) => n.lacks(this.layers, l))) return;
    const known = this.config;
    if (known) {
      n.sealed = true;
      void n.enqueue(() => this.endWithImage(n, n, known));
      n.early = n.loaded;
      return;
    }
    let top = this.layers.length - 1;
    while (top >= 0 && !n.written.has(this.layers[top])) top--;
    if (top < 0) return;
    n.sealed = true;
    const diffIds = this.layers.slice(0, top + 1);
    // Unique per preload, so that removing it never touches another's.
    const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, comment: `tfnz upload placeholder ${randomUUID()}` }));
    const placeholder = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    n.placeholder = placeholder;
    void n.enqueue(async () => {
      await n.small(`${hex(placeholder)}.json`, config);
      await n.small('manifest.json', manifest(placeholder, diffIds, n));
      n.finalize();
    });
  }

  /**
   * The tee for a layer upload (`layer`: its digest when the sender named it), or undefined when
   * this preload takes no part: gone already, or the layer is not this image's (another upload of
   * the session runs at the same time, so which layer is whose is no longer known).
   * A named layer is copied into the loads of the nodes that lack it as it arrives. An unnamed one
   * (Docker <= 24 exports, hashed only on the way) could be one the node has: it goes live only to
   * nodes that share no layer with the image; to the others once verified, from the cache.
   */
  layer(layer: string | undefined, size: number): LayerTee | undefined {
    if (this.abandoned) return undefined;
    if (this.active || (layer !== undefined && !this.layers.includes(layer))) {
      this.abort();
      return undefined;
    }
    this.active = true;
    this.idle.refresh();
    let ended!: { resolve(digest: string): void; reject(err: Error): void };
    const end = new Promise<string>((resolve, reject) => (ended = { resolve, reject }));
    end.catch(() => undefined);
    // Live: each chosen node's entry is open from its turn until the layer ends. An unnamed layer
    // goes live only to a node that shares no layer with the image (so surely lacks it).
    const name = `${layer ? hex(layer) : `unnamed-${this.unnamed++}`}/layer.tar`;
    const takesLive = (n: NodeLoad) => (layer === undefined ? n.skip === 0 : n.lacks(this.layers, layer));
    const live = this.live().then((nodes) => nodes.filter(takesLive).map((n) => {
      let begun!: () => void;
      const started = new Promise<void>((resolve) => (begun = resolve));
      void n.enqueue(async () => {
        n.begin(name, size);
        begun();
        const digest = await end;
        n.end();
        n.written.set(digest, name);
        this.sealIfReady(n);
      }).finally(begun);
      return { n, started };
    }));
    return {
      write: async (chunk) => {
        if (this.abandoned) return;
        this.idle.refresh();
        await Promise.all((await live).map(async ({ n, started }) => {
          await started;
          await n.write(chunk);
        }));
      },
      done: (digest) => {
        this.active = false;
        this.awaited.delete(digest);
        ended.resolve(digest);
        if (layer !== undefined) return;
        this.feeding = this.feeding.then(() => this.live()).then((nodes) => {
          for (const n of nodes) {
            if (!n.lacks(this.layers, digest)) continue;
            void n.enqueue(async () => {
              if (n.lacks(this.layers, digest)) await n.file(digest, this.cache.layerPath(digest));
              this.sealIfReady(n);
            });
          }
        }, () => undefined);
      },
      fail: () => {
        ended.reject(new Error('the layer did not arrive whole'));
        this.abort();
      },
    };
  }

  /**
   * The upload is whole: add what the nodes lack from the cache, the config and the manifest.
   * Resolves once every node's `docker load` answered; never rejects.
   */
  async finish(): Promise<void> {
    this.finishing = true;
    clearTimeout(this.idle);
    if (this.abandoned) return;
    if (this.active) return this.abort();
    await this.feeding;
    const config = this.cache.config(this.id);
    await Promise.all((await this.nodes).map(async (n) => {
      if (n.early) return void (await n.early);
      if (n.placeholder) return void (await this.loadImage(n, config));
      if (n.failed) return;
      await n.enqueue(async () => {
        for (const layer of this.layers) if (n.lacks(this.layers, layer)) await n.file(layer, this.cache.layerPath(layer));
        await this.endWithImage(n, n, config);
      });
      await n.loaded;
    }));
  }

  /**
   * The node holds the layers under a placeholder: load the image itself (config and manifest
   * only), then drop the placeholder. Resolves with whether the image loaded.
   */
  private async loadImage(n: NodeLoad, config: Buffer): Promise<boolean> {
    if (!(await n.loaded)) return false;
    const image = new NodeLoad(n.engine);
    await this.endWithImage(image, n, config);
    if (!(await image.loaded)) return false;
    // Only now: the image holds the layers, which would otherwise go with the placeholder.
    void n.engine.removeImage?.(n.placeholder!).catch(() => undefined);
    return true;
  }

  /** End `load` with the image itself: its config and manifest, the layers named as node `n`'s stream has them. */
  private async endWithImage(load: NodeLoad, n: NodeLoad, config: Buffer): Promise<void> {
    await load.small(`${hex(this.id)}.json`, config);
    await load.small('manifest.json', manifest(this.id, this.layers, n));
    load.finalize();
  }

  /** Nodes whose load runs or ended with a placeholder, once known: the resolver has a spawn wait for them. */
  engines(): Promise<Engine[]> {
    return this.nodes.then((nodes) => nodes.filter((n) => !n.failed || n.sealed).map((n) => n.engine), () => []);
  }

  /** Give up: every node's stream ends as no tar, and nothing is loaded. */
  abort(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    clearTimeout(this.idle);
    void this.nodes.then((nodes) => nodes.forEach((n) => {
      n.abort();
      // A placeholder's load may have ended before the abort: its layers go with it. So does the
      // image itself, loaded early: the upload it came with never became whole.
      if (n.placeholder) void n.loaded.then((took) => (took ? n.engine.removeImage?.(n.placeholder!) : undefined)).catch(() => undefined);
      if (n.early) void n.early.then((took) => (took ? n.engine.removeImage?.(this.id) : undefined)).catch(() => undefined);
    }), () => undefined);
  }
}

const hex = (digest: string) => digest.slice('sha256:'.length);

/** The manifest of image `config` with `layers`, each named as `n`'s stream has it (a layer the node has is not in the stream: docker load skips it). */
function manifest(config: string, layers: string[], n: NodeLoad): Buffer {
  return Buffer.from(JSON.stringify([{ Config: `${hex(config)}.json`, RepoTags: null, Layers: layers.map((l) => n.written.get(l) ?? `${hex(l)}/layer.tar`) }]));
}
