/**
 * Streams come in pieces of their source's choosing (~20-64 KiB from an engine's HTTP response);
 * a transfer sends them in frames of `size`: a 100 MB file is ~100 frames, acks and writes, not
 * thousands. Each piece is copied once, into the frame it joins; a source piece that is a whole
 * frame already is passed on as it is.
 */
export async function* gatherChunks(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let gathered: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; ) {
      const piece = chunk.subarray(at, at + size - length);
      gathered.push(piece);
      length += piece.length;
      at += piece.length;
      if (length === size) {
        yield gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, length);
        gathered = [];
        length = 0;
      }
    }
  }
  if (length > 0) yield gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, length);
}
