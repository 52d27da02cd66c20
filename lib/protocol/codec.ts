/** msgpack encoding of envelopes (envelope.ts), with strict checks on what arrives. */
import { Packr } from 'msgpackr';
import { FRAME_EVENT, FRAME_REPLY, FRAME_REQUEST, type Frame } from './envelope';
import { ProtocolError, type ErrorBody } from './errors';

// Plain msgpack (no record extension) so frames are self-contained and any msgpack peer reads them.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encodeFrame(frame: Frame): Buffer {
  switch (frame.kind) {
    case 'request':
      return packr.pack(withBulk([FRAME_REQUEST, frame.id, frame.command, frame.params ?? null], frame.bulk));
    case 'reply':
      return packr.pack(withBulk([FRAME_REPLY, frame.id, frame.error ?? null, frame.result ?? null], frame.bulk));
    case 'event':
      return packr.pack(withBulk([FRAME_EVENT, frame.seq, frame.event, frame.params ?? null], frame.bulk));
  }
}

/**
 * An event's name and params encoded once, for sending to many sessions (a node's stats to every
 * session): each session then only prefixes its own seq (encodeEncodedEvent), byte for byte the
 * frame encodeFrame would make, so fan-out costs one encoding, not one per session.
 */
export interface EncodedEvent {
  readonly event: string;
  /** msgpack of `event` then `params`: the last two elements of the event frame's array. */
  readonly tail: Buffer;
}

/** Encode an event's name and params once (no bulk: bulk events go to one session only). */
export function preEncodeEvent(event: string, params: unknown): EncodedEvent {
  return { event, tail: Buffer.concat([packr.pack(event), packr.pack(params ?? null)]) };
}

/** msgpack fixarray of 4, then FRAME_EVENT as a positive fixint: the start of every bulk-less event frame. */
const EVENT_HEAD = Buffer.from([0x94, FRAME_EVENT]);

/** The event frame `[FRAME_EVENT, seq, event, params]` from a pre-encoded event. */
export function encodeEncodedEvent(seq: number, encoded: EncodedEvent): Buffer {
  const seqBytes = packr.pack(seq);
  return Buffer.concat([EVENT_HEAD, seqBytes, encoded.tail], EVENT_HEAD.length + seqBytes.length + encoded.tail.length);
}

function withBulk(parts: unknown[], bulk: Uint8Array | undefined): unknown[] {
  if (bulk && bulk.length > 0) parts.push(bulk);
  return parts;
}

/** Decode one frame; anything that is not a well-formed envelope is a ProtocolError. */
export function decodeFrame(data: Uint8Array | ArrayBuffer): Frame {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(`frame is not valid msgpack (${(err as Error).message})`);
  }
  if (!Array.isArray(raw) || raw.length < 4 || raw.length > 5) {
    throw new ProtocolError('frame must be a msgpack array [type, id, name, params, bulk?]');
  }
  const [type, id, name, params, bulk] = raw as [unknown, unknown, unknown, unknown, unknown];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new ProtocolError('frame id/sequence must be a non-negative integer');
  }
  if (bulk !== undefined && !(bulk instanceof Uint8Array)) {
    throw new ProtocolError('frame bulk must be binary');
  }
  switch (type) {
    case FRAME_REQUEST:
      if (typeof name !== 'string' || name === '') throw new ProtocolError('request needs a command name');
      return { kind: 'request', id, command: name, params: params ?? {}, bulk: bulk as Uint8Array | undefined };
    case FRAME_REPLY:
      if (name !== null && !isErrorBody(name)) throw new ProtocolError('reply error must be {code, message}');
      return { kind: 'reply', id, error: (name as ErrorBody | null) ?? undefined, result: params ?? {}, bulk: bulk as Uint8Array | undefined };
    case FRAME_EVENT:
      if (typeof name !== 'string' || name === '') throw new ProtocolError('event needs a name');
      return { kind: 'event', seq: id, event: name, params: params ?? {}, bulk: bulk as Uint8Array | undefined };
    default:
      throw new ProtocolError(`unknown frame type ${String(type)}`);
  }
}

function isErrorBody(x: unknown): x is ErrorBody {
  return typeof x === 'object' && x !== null && typeof (x as ErrorBody).code === 'string' && typeof (x as ErrorBody).message === 'string';
}
