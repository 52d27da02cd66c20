import { expect } from 'chai';
import { Writable } from 'node:stream';
import { progressBar, pullProgressBar } from '../../lib/cli/progress-bar';
import type { UploadProgress } from '../../lib/client/image-upload';
import type { PullProgress } from '../../lib/protocol';

/** A terminal as cli-progress sees one: what it writes is kept, its cursor moves are ignored. */
function fakeTerminal(): { stream: NodeJS.WriteStream; text(): string } {
  let written = '';
  const stream = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 120, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true });
  return { stream, text: () => written.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '') };
}

const MiB = 2 ** 20;

describe('CLI progress bars on a terminal', () => {
  it('an upload shows bytes done over the total in MiB, then a last line', () => {
    const term = fakeTerminal();
    const bar = progressBar(term.stream);
    const at = (layersDone: number, bytesDone: number): UploadProgress =>
      ({ phase: 'uploading', image: 'img', layersDone, layersTotal: 2, bytesDone, bytesTotal: 3 * MiB }) as UploadProgress;
    bar.next(at(0, 0));
    bar.next(at(1, 3 * MiB));
    bar.next({ ...at(2, 3 * MiB), phase: 'done' } as UploadProgress);
    expect(term.text()).to.include('uploading img [').and.include('| 3.0/3.0 MiB | layer 2/2');
    expect(term.text()).to.include('img: 2 layer(s), 3.0 MiB uploaded\n');
  });

  it('a pull\'s total grows as layer sizes become known', () => {
    const term = fakeTerminal();
    const bar = pullProgressBar(term.stream);
    const at = (layersDone: number, bytesDone: number, bytesTotal: number): PullProgress =>
      ({ phase: 'pulling', image: 'p', node: 'n', layersDone, layersTotal: 2, bytesDone, bytesTotal }) as PullProgress;
    bar.next(at(0, 0, 0));
    bar.next(at(1, MiB, 5 * MiB));
    bar.next(at(2, 5 * MiB, 5 * MiB));
    bar.next({ ...at(2, 5 * MiB, 5 * MiB), phase: 'done' } as PullProgress);
    expect(term.text()).to.include('| 5.0/5.0 MiB | layers 2/2').and.include('100%');
    expect(term.text()).to.include('p: 2 layer(s), 5.0 MiB pulled by node n\n');
  });
});
