/**
 * Upload and pull progress for the `tfnz` command: a bar on a terminal (cli-progress), a line per layer
 * otherwise, so logs stay readable when stderr is a file.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { UploadProgress } from '../client/image-upload';
import type { PullProgress } from '../protocol';

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** An observer for `loc.uploads$` or `ensureImageUploaded(image, { progress$ })`. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): { next(p: UploadProgress): void; complete(): void } {
  let bar: SingleBar | undefined;
  let lastLayers = -1;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    next(p) {
      if (p.phase === 'exporting') return void stream.write(`exporting ${p.image} from the local Docker Engine (${p.layersTotal} layer(s) to upload)\n`);
      if (p.phase === 'done') {
        stop();
        return void stream.write(`${p.image}: ${p.layersTotal ? `${p.layersDone} layer(s), ${mib(p.bytesDone)} MiB uploaded` : 'already at the location'}\n`);
      }
      if (!stream.isTTY) {
        if (p.layersDone !== lastLayers) stream.write(`${p.image}: layer ${p.layersDone}/${p.layersTotal}, ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB\n`);
        lastLayers = p.layersDone;
        return;
      }
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: `uploading ${p.image} [{bar}] {percentage}% | {done}/{total} MiB | layer {layers} | {eta_formatted}`,
          hideCursor: true,
        }, Presets.shades_classic);
        bar.start(p.bytesTotal, 0, { done: '0.0', total: mib(p.bytesTotal), layers: `0/${p.layersTotal}` });
      }
      bar.setTotal(p.bytesTotal); // layers are sized as their export begins
      bar.update(p.bytesDone, { done: mib(p.bytesDone), total: mib(p.bytesTotal), layers: `${Math.min(p.layersDone + 1, p.layersTotal)}/${p.layersTotal}` });
    },
    complete: stop,
  };
}

/**
 * #19: a registry pull on a node (`loc.pullImage$`, `ctr.pull$`): a bar of downloaded bytes on a
 * terminal, a line per finished layer otherwise; a last line says what was pulled.
 */
export function pullProgressBar(stream: NodeJS.WriteStream = process.stderr): { next(p: PullProgress): void; complete(): void } {
  let bar: SingleBar | undefined;
  let lastLayers = -1;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    next(p) {
      if (p.phase === 'done') {
        stop();
        return void stream.write(`${p.image}: ${p.layersTotal ? `${p.layersTotal} layer(s), ${mib(p.bytesDone)} MiB pulled by node ${p.node}` : `already on node ${p.node}`}\n`);
      }
      if (!stream.isTTY) {
        if (p.layersDone !== lastLayers) stream.write(`${p.image}: pulling, layer ${p.layersDone}/${p.layersTotal}, ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB\n`);
        lastLayers = p.layersDone;
        return;
      }
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: `pulling ${p.image} [{bar}] {percentage}% | {done}/{total} MiB | layers {layers} | {eta_formatted}`,
          hideCursor: true,
        }, Presets.shades_classic);
        bar.start(Math.max(p.bytesTotal, 1), 0, { done: '0.0', total: mib(p.bytesTotal), layers: `0/${p.layersTotal}` });
      }
      // Layer sizes become known as their downloads start: the total grows.
      bar.setTotal(Math.max(p.bytesTotal, 1));
      bar.update(p.bytesDone, { done: mib(p.bytesDone), total: mib(p.bytesTotal), layers: `${p.layersDone}/${p.layersTotal}` });
    },
    complete: stop,
  };
}
