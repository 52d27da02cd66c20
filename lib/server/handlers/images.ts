/** Image uploads into the location's layer cache, and the user's image descriptions. */
import { BadRequest, ImageNotFound, QuotaExceeded } from '../../protocol';
import type { PullReport } from '../../engines/registry-pull';
import { parseImageReference } from '../../shared/registry-reference';
import { FileWriter } from '../file-transfer';
import type { CommandHandlers, MessageHandlers } from './handler';
import { ImagePreload, type LayerTee } from '../image-preload';
import type { LayerSink } from '../layer-cache';
import type { FileSink } from '../../engines/engine';

export const imageCommands = {
  async image_layers_missing(s, p) {
    const missing = s.ctx.images.missing(s.user, p.layers);
    if (missing.length) {
      // #17: the layers about to arrive go into the nodes' docker load as they come.
      s.preload?.abort();
      s.preload = new ImagePreload(s.ctx.images, s.ctx.nodes.liveEngines(), p.id, p.layers, missing);
    }
    return { missing, configMissing: !s.ctx.images.userHasConfig(s.user, p.id) };
  },

  async upload_layer(s, p) {
    const { transfer, size } = p;
    if (s.uploads.has(transfer)) throw new BadRequest(`transfer id '${transfer}' is already in use`);
    s.ctx.quotas.upload(s.user, size);
    const sink = s.ctx.images.layerSink(s.user, p.layer, size);
    const tee = s.preload?.layer(p.layer, size);
    const writer = new FileWriter(
      transfer, tee ? teeSink(sink, tee) : sink, size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => s.uploads.delete(transfer),
    );
    s.uploads.set(transfer, writer);
    if (size === 0) setImmediate(() => writer.complete());
    // #17: the bytes may come raw on a data connection of their own (upload-links.ts).
    return (p.link && size > 0 && s.uploadLinks.offer(writer)) || {};
  },

  async upload_relink(s, p) {
    const writer = s.uploads.get(p.transfer);
    if (!writer?.linked) throw new BadRequest(`no layer upload '${p.transfer.slice(0, 40)}' on a data connection in this session`);
    const offer = s.uploadLinks.offer(writer);
    if (!offer) throw new QuotaExceeded('too many sockets from this address for another data connection (the location\'s --connections-per-address raises it)');
    return offer;
  },

  async put_image_description(s, p) {
    if (p.config) {
      // Nothing is written for an image whose layers never arrived.
      const absent = s.ctx.images.missing(s.user, p.layers);
      if (absent.length) throw new BadRequest(`${absent.length} layer(s) of '${p.name.slice(0, 200)}' are not in the location's cache; upload them first`);
      s.ctx.images.putConfig(s.user, p.id, p.config, p.layers);
    }
    s.ctx.images.putDescription(s.user, { name: p.name, id: p.id, layers: p.layers });
    const preload = s.preload;
    if (preload?.id === p.id) {
      s.preload = undefined;
      s.ctx.imageResolver.preloading(preload, preload.finish());
    }
    return {};
  },

  // #19
  async pull_image(s, p) {
    const node = s.ctx.nodes.get(p.node);
    const ref = parseImageReference(p.image);
    const report = (progress: PullReport) => s.emit('image_pull', { pull: p.pull, progress: { ...progress, node: node.info.id } });
    const registries = s.ctx.imageResolver.registries;
    const request = { policy: p.policy ?? 'missing', auth: p.registryAuth, onProgress: report };
    if (request.policy !== 'always' && (await node.engine.taggedImageId(ref.canonical))) {
      // On the node already: this user may have it only with the registry's consent (registry-images.ts).
      if (await registries.fromRegistry(node.engine, ref.canonical)) await registries.checkAccess(node.engine, ref.canonical, p.registryAuth);
      const id = (await node.engine.taggedImageId(ref.canonical))!;
      report({ image: ref.canonical, phase: 'done', layers: [], bytesDone: 0, bytesTotal: 0, layersDone: 0, layersTotal: 0 });
      return { id };
    }
    if (request.policy === 'never') throw new ImageNotFound(`image '${p.image}' is not on node ${node.info.name} and the pull policy is 'never'`);
    return { id: await registries.pull(node.engine, s.user, ref, request) };
  },
} satisfies Partial<CommandHandlers>;

export const imageMessages = {
  // #17: a hint for the upload under way; none under way for this image, nothing to do.
  image_config(s, p) {
    if (s.preload?.id === p.id) s.preload.takeConfig(Buffer.from(p.config));
  },
} satisfies Partial<MessageHandlers>;

/** The cache's sink, each chunk also copied into the preload; the cache decides whether the layer is good. */
function teeSink(sink: LayerSink, tee: LayerTee): FileSink {
  return {
    write: async (chunk) => {
      await Promise.all([sink.write(chunk), tee.write(chunk)]);
    },
    finish: async () => {
      try {
        await sink.finish();
      } catch (err) {
        tee.fail();
        throw err;
      }
      tee.done(sink.digest!);
    },
    abort: () => {
      tee.fail();
      return sink.abort();
    },
  };
}
