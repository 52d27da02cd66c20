// Upload an image from your Docker Engine to a location's cache, only the layers it lacks, with a
// progress bar; then run it there once. `npx tsx examples/upload-image.ts IMAGE [COMMAND...]`
// with TFNZ_LOCATION=host:port (with no location, the embedded one caches it under ~/.tfnz).
import { SingleBar, Presets } from 'cli-progress';
import { filter } from 'rxjs';
import { Location, lines } from 'tfnz';

const [image = 'busybox:latest', ...command] = process.argv.slice(2);
const loc = await Location.connect({ quiet: true });
const bar = new SingleBar({ format: `${image} [{bar}] {percentage}% | {value}/{total} bytes | layer {layers}`, stream: process.stderr }, Presets.shades_classic);

await new Promise<void>((resolve, reject) =>
  loc.uploadImage$(image).subscribe({
    next: (p) => {
      if (p.phase === 'uploading' && !bar.isActive) bar.start(p.bytesTotal, 0, { layers: `0/${p.layersTotal}` });
      if (bar.isActive) bar.update(p.bytesDone, { layers: `${p.layersDone}/${p.layersTotal}` });
      if (p.phase === 'done') {
        bar.stop();
        console.error(`${image}: ${p.layersTotal} layer(s) uploaded, ${p.bytesDone} bytes`);
      }
    },
    error: reject,
    complete: resolve,
  }),
);

// The node loads it from the location's cache; nothing is uploaded again.
const ctr = loc.node().spawnContainer(image, { command: command.length ? command : ['echo', `hello from ${image}`] });
ctr.stdout$.pipe(filter((c) => c.stream === 'stdout'), lines()).subscribe((line) => console.log(line));
await ctr.ready();
await new Promise<void>((resolve) => ctr.termination$.subscribe({ complete: resolve }));
await loc.disconnect();
