import { expect } from 'chai';
import { pack } from 'msgpackr';
import {
  decodeFrame, encodeEncodedEvent, encodeFrame, errorFromWire, preEncodeEvent, errorToWire, ImageNotFound, ProtocolError, TfnzError,
} from '../../lib/protocol';

describe('codec', () => {
  it('round-trips requests, replies and events with their bulk bytes', () => {
    const bulk = Buffer.from([0, 1, 2, 255]);
    const req = decodeFrame(encodeFrame({ kind: 'request', id: 7, command: 'spawn_container', params: { image: 'nginx' }, bulk }));
    expect(req).to.deep.include({ kind: 'request', id: 7, command: 'spawn_container', params: { image: 'nginx' } });
    expect(Buffer.from((req as { bulk: Uint8Array }).bulk)).to.deep.equal(bulk);

    const reply = decodeFrame(encodeFrame({ kind: 'reply', id: 7, result: { ok: 1 } }));
    expect(reply).to.deep.include({ kind: 'reply', id: 7, result: { ok: 1 }, error: undefined });

    const event = decodeFrame(encodeFrame({ kind: 'event', seq: 42, event: 'node_stats', params: { node: 'n' } }));
    expect(event).to.deep.include({ kind: 'event', seq: 42, event: 'node_stats', params: { node: 'n' } });
  });

  it('encodes an event once for many sessions, byte for byte the frame each would get alone', () => {
    const params = { node: 'node-1', stats: { cpu: 187.5, memory: 23_000, paging: 0, containers: 3 }, note: 'é'.repeat(40) };
    const encoded = preEncodeEvent('node_stats', params);
    for (const seq of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
      const alone = encodeFrame({ kind: 'event', seq, event: 'node_stats', params });
      const shared = encodeEncodedEvent(seq, encoded);
      expect(shared.equals(alone), `seq ${seq}`).to.equal(true);
      expect(decodeFrame(shared)).to.deep.include({ kind: 'event', seq, event: 'node_stats', params });
    }
    expect(encodeEncodedEvent(3, preEncodeEvent('volume_destroyed', undefined)).equals(
      encodeFrame({ kind: 'event', seq: 3, event: 'volume_destroyed', params: undefined }),
    )).to.equal(true);
  });

  it('carries error replies as {code, message}', () => {
    const frame = decodeFrame(encodeFrame({ kind: 'reply', id: 3, error: errorToWire(new ImageNotFound('no such image')) }));
    expect(frame.kind).to.equal('reply');
    const err = errorFromWire((frame as { error: { code: string; message: string } }).error);
    expect(err).to.be.instanceOf(ImageNotFound).and.instanceOf(TfnzError);
    expect(err.message).to.equal('no such image');
  });

  it('keeps unknown error codes instead of losing them', () => {
    const err = errorFromWire({ code: 'FUTURE_THING', message: 'from a newer location' });
    expect(err).to.be.instanceOf(TfnzError);
    expect(err.code).to.equal('FUTURE_THING');
  });

  const malformed: [string, Uint8Array][] = [
    ['bytes that are not msgpack', Buffer.from([0xc1, 0xc1, 0xc1])],
    ['a map instead of an array', pack({ kind: 'request' })],
    ['a short array', pack([0, 1])],
    ['a negative id', pack([0, -1, 'x', {}])],
    ['a fractional id', pack([0, 1.5, 'x', {}])],
    ['an empty command', pack([0, 1, '', {}])],
    ['a string bulk', pack([0, 1, 'x', {}, 'not binary'])],
    ['an unknown frame type', pack([9, 1, 'x', {}])],
    ['a reply with a malformed error', pack([1, 1, { code: 5 }, null])],
  ];
  for (const [what, bytes] of malformed) {
    it(`rejects ${what} with a ProtocolError`, () => {
      expect(() => decodeFrame(bytes)).to.throw(ProtocolError);
    });
  }
});
