/** Image uploads into the location's layer cache, and the user's image descriptions. */
import { BadRequest } from '../../protocol';
import { FileWriter } from '../file-transfer';
import type { CommandHandlers } from './handler';

export const imageCommands = {
  async image_layers_missing(s, p) {
    return { missing: s.ctx.images.missing(s.user, p.layers), configMissing: !s.ctx.images.userHasConfig(s.user, p.id) };
  },

  async upload_layer(s, p) {
    const { transfer, size } = p;
    if (s.uploads.has(transfer)) throw new BadRequest(`transfer id '${transfer}' is already in use`);
    s.ctx.quotas.upload(s.user, size);
    const writer = new FileWriter(
      transfer, s.ctx.images.layerSink(s.user, p.layer, size), size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => s.uploads.delete(transfer),
    );
    s.uploads.set(transfer, writer);
    if (size === 0) setImmediate(() => writer.complete());
    return {};
  },

  async put_image_description(s, p) {
    if (p.config) {
      // Nothing is written for an image whose layers never arrived.
      const absent = s.ctx.images.missing(s.user, p.layers);
      if (absent.length) throw new BadRequest(`${absent.length} layer(s) of '${p.name.slice(0, 200)}' are not in the location's cache; upload them first`);
      s.ctx.images.putConfig(s.user, p.id, p.config, p.layers);
    }
    s.ctx.images.putDescription(s.user, { name: p.name, id: p.id, layers: p.layers });
    return {};
  },
} satisfies Partial<CommandHandlers>;
