/**
 * A cheap look at a msgpack value's shape before decoding it: how deep it nests and how many
 * elements it has. msgpackr has no such bounds, and decoding 32 MiB of empty maps makes 32 million
 * objects (seconds of a blocked event loop, gigabytes of memory); walking the bytes costs a
 * fraction of that and allocates nothing. Malformed input is left for the decoder to report.
 */
import { ProtocolError } from './errors';

export interface ShapeLimits {
  /** Deepest nesting of arrays and maps. */
  depth: number;
  /** Values in all (a map entry counts its key and its value). */
  elements: number;
}

/** What any legitimate frame fits in with room to spare (the largest: put_image_description, 256 layers). */
export const FRAME_SHAPE: ShapeLimits = { depth: 32, elements: 100_000 };

/** Throws ProtocolError when `data` nests deeper or holds more values than `limits` allow. */
export function checkShape(data: Uint8Array, limits: ShapeLimits = FRAME_SHAPE): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: number[] = [];
  let need = 1;
  let elements = 0;
  let pos = 0;
  for (;;) {
    if (need === 0) {
      if (stack.length === 0) return;
      need = stack.pop()!;
      continue;
    }
    if (pos >= data.length) return; // truncated: the decoder says so
    need--;
    if (++elements > limits.elements) throw new ProtocolError(`frame has more than ${limits.elements} values; send bulk data as binary`);
    const b = data[pos++];
    let children = 0;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) skip = 0;
    else if (b <= 0x8f) children = (b & 0x0f) * 2;
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else {
      const size = (bytes: number) => (pos + bytes > data.length ? NaN : bytes === 1 ? data[pos] : bytes === 2 ? view.getUint16(pos) : view.getUint32(pos));
      switch (b) {
        case 0xc4: case 0xd9: skip = 1 + size(1); break; // bin8, str8
        case 0xc5: case 0xda: skip = 2 + size(2); break;
        case 0xc6: case 0xdb: skip = 4 + size(4); break;
        case 0xc7: skip = 2 + size(1); break; // ext8: length, type, data
        case 0xc8: skip = 3 + size(2); break;
        case 0xc9: skip = 5 + size(4); break;
        case 0xca: case 0xce: case 0xd2: skip = 4; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xd4: skip = 2; break; // fixext: type and 1, 2, 4, 8, 16 bytes
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: children = size(2); skip = 2; break;
        case 0xdd: children = size(4); skip = 4; break;
        case 0xde: children = size(2) * 2; skip = 2; break;
        case 0xdf: children = size(4) * 2; skip = 4; break;
        default: return; // 0xc1 is never used: the decoder rejects it
      }
      if (Number.isNaN(skip) || Number.isNaN(children)) return;
    }
    pos += skip;
    if (children > 0) {
      stack.push(need);
      if (stack.length > limits.depth) throw new ProtocolError(`frame nests deeper than ${limits.depth} levels`);
      need = children;
    }
  }
}
