import { expect } from 'chai';
import { DockerDemuxer } from '../../lib/engines/docker-demux';
import type { OutputStream } from '../../lib/protocol';

/** A frame as dockerd writes it: type, three zero bytes, big-endian length, payload. */
function frame(type: number, payload: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(Buffer.byteLength(payload), 4);
  return Buffer.concat([header, Buffer.from(payload)]);
}

/** Feed `wire` in reads of `size` bytes; what came out, per stream, joined. */
function demux(wire: Buffer, size: number): Record<OutputStream, string> & { pieces: number } {
  const out = { stdout: '', stderr: '', pieces: 0 };
  const demuxer = new DockerDemuxer((stream, data) => {
    out[stream] += data.toString();
    out.pieces++;
  });
  for (let i = 0; i < wire.length; i += size) demuxer.push(wire.subarray(i, i + size));
  return out;
}

describe('DockerDemuxer', () => {
  const wire = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, ''), frame(1, 'world'), frame(2, '!')]);

  it('splits stdout from stderr however the stream is cut into reads', () => {
    for (let size = 1; size <= wire.length; size++) {
      const { stdout, stderr } = demux(wire, size);
      expect({ stdout, stderr }, `reads of ${size} bytes`).to.deep.equal({ stdout: 'hello world', stderr: 'oops!' });
    }
  });

  it('hands on a payload as the read it came in, without waiting for the rest of its frame', () => {
    const pieces: Buffer[] = [];
    const big = frame(1, 'x'.repeat(100));
    const demuxer = new DockerDemuxer((_, data) => pieces.push(data));
    const read = Buffer.from(big.subarray(0, 60));
    demuxer.push(read);
    expect(pieces.map((p) => p.length)).to.deep.equal([52]);
    expect(pieces[0].buffer).to.equal(read.buffer); // a view of the read, not a copy
    demuxer.push(big.subarray(60));
    expect(pieces.map((p) => p.length)).to.deep.equal([52, 48]);
  });

  it('passes a stream that is not multiplexed on as stdout, unchanged', () => {
    const text = Buffer.from('plain tty output, no frames\n');
    expect(demux(text, 5)).to.include({ stdout: text.toString(), stderr: '' });
  });
});
