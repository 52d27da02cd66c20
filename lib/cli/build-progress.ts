/**
 * Build progress for `tfnz build`: on a terminal a bar over the Dockerfile's steps, with the
 * build's output printed above it; otherwise plain lines (each step, then its output), so logs
 * stay readable when stderr is a file.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { TerminalBar } from './terminal-bar';
import type { BuildProgress } from '../client/image-build';

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** An observer for `loc.buildImage(dir, { progress$ })`. */
export function buildProgressDisplay(stream: NodeJS.WriteStream = process.stderr): { next(p: BuildProgress): void; complete(): void; error(): void } {
  let steps: SingleBar | undefined;
  const bars = new TerminalBar(() => new MultiBar({ stream, format: 'building [{bar}] step {value}/{total} {instruction}', hideCursor: true }, Presets.shades_classic));
  const print = (text: string) => (bars.showing ? bars.get().log(text.endsWith('\n') ? text : `${text}\n`) : stream.write(text));
  const stop = () => {
    bars.stop();
    steps = undefined;
  };
  return {
    next(p) {
      switch (p.type) {
        case 'base':
          return void print(`uploading base image ${p.image} from the local Docker Engine\n`);
        case 'context':
          if (p.bytesDone === p.bytesTotal) print(`sent the build context (${kib(p.bytesTotal)} KiB)\n`);
          return;
        case 'step':
          if (!stream.isTTY) return void print(`step ${p.step}/${p.steps}: ${p.instruction}\n`);
          steps ??= bars.get().create(p.steps, 0, { instruction: '' });
          print(`step ${p.step}/${p.steps}: ${p.instruction}\n`);
          return void steps.update(p.step, { instruction: p.instruction.slice(0, 60) });
        case 'output':
          // The builder's own bookkeeping (" ---> 3f2a…", "Removing intermediate container") is noise here.
          if (/^\s*$|^ ---> |^Removing intermediate container/.test(p.text)) return;
          return void print(p.text);
        case 'built':
          stop();
          return void stream.write(`built ${p.tag} (${p.image.slice(0, 19)}…)\n`);
      }
    },
    complete: stop,
    error: stop,
  };
}
