import { expect } from 'chai';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { checkShape, FRAME_SHAPE } from '../../lib/protocol/msgpack-shape';
import { ProtocolError, encodeFrame } from '../../lib/protocol';

describe('msgpack shape check before decoding', () => {
  it('passes every real frame shape, bulk data included', () => {
    const layers = Array.from({ length: 256 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
    for (const frame of [
      encodeFrame({ kind: 'request', id: 7, command: 'put_image_description', params: { id: layers[0], layers, name: 'x', config: Buffer.alloc(4 << 20) } }),
      encodeFrame({ kind: 'request', id: 8, command: 'spawn_container', params: { preBootFiles: [['/a', Buffer.alloc(1 << 20)], ['/b', 'text']], env: [['A', 'b']] } }),
      encodeFrame({ kind: 'request', id: 0, command: 'file_data', params: { transfer: 't' }, bulk: Buffer.alloc(1 << 20, 7) }),
    ]) expect(() => checkShape(frame)).to.not.throw();
  });

  it('agrees with the decoder on the values it counts, for any msgpack value', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 5, withTypedArray: false }), (value) => {
      expect(() => checkShape(pack(value), { depth: 10, elements: 1e6 })).to.not.throw();
    }), { numRuns: 500 });
  });

  it('refuses too many values and too deep a nesting, fast', () => {
    const wide = Buffer.concat([Buffer.from([0xdd, 0x01, 0x00, 0x00, 0x00]), Buffer.alloc(1 << 24, 0x80)]);
    const started = Date.now();
    expect(() => checkShape(wide)).to.throw(ProtocolError, /more than 100000 values/);
    expect(Date.now() - started, 'decoding this took seconds').to.be.below(1000);
    const deep = Buffer.concat([Buffer.alloc(FRAME_SHAPE.depth + 1, 0x91), Buffer.from([0xc0])]);
    expect(() => checkShape(deep)).to.throw(ProtocolError, /deeper than 32/);
    expect(() => checkShape(deep.subarray(1))).to.not.throw();
  });

  it('leaves truncated or malformed input to the decoder', () => {
    for (const bytes of [[0xdd, 0xff], [0xc4, 0x10, 0x01], [0xc1], [0x92, 0x01]]) expect(() => checkShape(Buffer.from(bytes))).to.not.throw();
  });
});
