/**
 * Upload and pull progress for the `tfnz` command: a bar on a terminal (cli-progress), a line per layer
 * otherwise, so logs stay readable when stderr is a file.
 */
import type { UploadProgress } from '../client/image-upload';
import type { PullProgress } from '../protocol';
import { layerTransferBar, mib } from './terminal-bar';

/** An observer for `loc.uploads$` or `ensureImageUploaded(image, { progress$ })`. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): { next(p: UploadProgress): void; complete(): void } {
  const bar = layerTransferBar<UploadProgress>(stream, {
    verb: 'uploading',
    layersLabel: 'layer',
    layers: (p) => `${Math.min(p.layersDone + 1, p.layersTotal)}/${p.layersTotal}`,
    line: (p) => `${p.image}: layer ${p.layersDone}/${p.layersTotal}, ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB`,
  });
  return {
    next(p) {
      if (p.phase === 'exporting') return void stream.write(`exporting ${p.image} from the local Docker Engine (${p.layersTotal} layer(s) to upload)\n`);
      if (p.phase === 'done') {
        bar.stop();
        return void stream.write(`${p.image}: ${p.layersTotal ? `${p.layersDone} layer(s), ${mib(p.bytesDone)} MiB uploaded` : 'already at the location'}\n`);
      }
      bar.update(p);
    },
    complete: bar.stop,
  };
}

/**
 * #19: a registry pull on a node (`loc.pullImage$`, `ctr.pull$`): a bar of downloaded bytes on a
 * terminal, a line per finished layer otherwise; a last line says what was pulled.
 */
export function pullProgressBar(stream: NodeJS.WriteStream = process.stderr): { next(p: PullProgress): void; complete(): void } {
  const bar = layerTransferBar<PullProgress>(stream, {
    verb: 'pulling',
    layersLabel: 'layers',
    layers: (p) => `${p.layersDone}/${p.layersTotal}`,
    line: (p) => `${p.image}: pulling, layer ${p.layersDone}/${p.layersTotal}, ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB`,
  });
  return {
    next(p) {
      if (p.phase === 'done') {
        bar.stop();
        return void stream.write(`${p.image}: ${p.layersTotal ? `${p.layersTotal} layer(s), ${mib(p.bytesDone)} MiB pulled by node ${p.node}` : `already on node ${p.node}`}\n`);
      }
      bar.update(p);
    },
    complete: bar.stop,
  };
}
