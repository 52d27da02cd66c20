/**
 * The lifecycle every `tfnz` progress display shares: a cli-progress bar made on the first
 * progress that needs it, and stopped once, whichever way the work ends (done, complete, error).
 */
import { SingleBar, Presets } from 'cli-progress';

/** A bar (or set of bars) made on demand; `stop` is safe to call any number of times. */
export class TerminalBar<B extends { stop(): void }> {
  private bar: B | undefined;

  constructor(private readonly make: () => B) {}

  /** The bar, made now if this is the first call since the last stop. */
  get(): B {
    return (this.bar ??= this.make());
  }

  /** Whether a bar is showing (output should then go above it, not through the stream). */
  get showing(): boolean {
    return this.bar !== undefined;
  }

  readonly stop = (): void => {
    this.bar?.stop();
    this.bar = undefined;
  };
}

/** What an upload or a pull reports as it goes. */
interface LayerTransfer {
  image: string;
  layersDone: number;
  layersTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/**
 * Bytes over layers: on a terminal one bar (`{verb} {image} [...] n% | done/total MiB | {label}`),
 * otherwise a line each time the count of finished layers moves, so a log file stays readable.
 */
export function layerTransferBar<P extends LayerTransfer>(
  stream: NodeJS.WriteStream,
  show: { verb: string; layersLabel: string; layers(p: P): string; line(p: P): string },
): { update(p: P): void; stop(): void } {
  let lastLayers = -1;
  let first: P | undefined;
  const bar = new TerminalBar(() => {
    const p = first!;
    const made = new SingleBar({
      stream,
      format: `${show.verb} ${p.image} [{bar}] {percentage}% | {done}/{totalMib} MiB | ${show.layersLabel} {layers} | {eta_formatted}`,
      hideCursor: true,
    }, Presets.shades_classic);
    made.start(Math.max(p.bytesTotal, 1), 0, { done: '0.0', totalMib: mib(p.bytesTotal), layers: `0/${p.layersTotal}` });
    return made;
  });
  return {
    update(p) {
      if (!stream.isTTY) {
        if (p.layersDone !== lastLayers) stream.write(`${show.line(p)}\n`);
        lastLayers = p.layersDone;
        return;
      }
      first = p;
      const shown = bar.get();
      // A pull learns layer sizes as their downloads start: the total can grow.
      shown.setTotal(Math.max(p.bytesTotal, 1));
      shown.update(p.bytesDone, { done: mib(p.bytesDone), totalMib: mib(p.bytesTotal), layers: show.layers(p) });
    },
    stop: bar.stop,
  };
}
