/**
 * Docker's multiplexed output stream (no tty) split back into stdout and stderr. Each frame is an
 * 8-byte header (stream type, three zero bytes, big-endian payload length) and its payload.
 *
 * dockerode's demuxStream concatenates every chunk it reads with what it held and copies the rest
 * of its buffer again for each frame it takes out, so a stream of 32 KiB frames read 64 KiB at a
 * time copied every byte three or four times before anyone saw it (#17). This hands on what each
 * read holds of a stream as one piece, as soon as it is read: a view of the read when it is one
 * payload (or part of one), else one copy of the payloads it holds; a payload split across reads
 * arrives in pieces, and a header split across reads is kept (8 bytes).
 */
import type { OutputStream } from '../protocol';

const HEADER_BYTES = 8;
/** Type 0 (stdin) goes with stderr, as dockerode has it; 3 and up are not frames. */
const STREAMS: Record<number, OutputStream | undefined> = { 0: 'stderr', 1: 'stdout', 2: 'stderr' };

export class DockerDemuxer {
  /** What is left of the current frame's payload, and whose it is. */
  private remaining = 0;
  private stream: OutputStream = 'stdout';
  /** A header cut by the end of a read, waiting for its other bytes. */
  private header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  /** The stream turned out not to be multiplexed (a tty after all): the rest is stdout as it is. */
  private raw = false;

  constructor(private readonly onOutput: (stream: OutputStream, data: Buffer) => void) {}

  /** Payloads of one stream taken from the current read, handed on together (gather). */
  private gathered: Buffer[] = [];
  private gatheredStream: OutputStream = 'stdout';

  /** Take the next chunk read from the engine. */
  push(chunk: Buffer): void {
    if (this.raw) return this.onOutput('stdout', chunk);
    this.take(chunk);
    this.handOn();
  }

  private take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const end = Math.min(chunk.length, at + this.remaining);
        this.remaining -= end - at;
        this.gather(at === 0 && end === chunk.length ? chunk : chunk.subarray(at, end));
        at = end;
        continue;
      }
      let header: Buffer;
      if (this.headerBytes === 0 && chunk.length - at >= HEADER_BYTES) {
        header = chunk.subarray(at, at + HEADER_BYTES);
        at += HEADER_BYTES;
      } else {
        const take = Math.min(HEADER_BYTES - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + take);
        this.headerBytes += take;
        at += take;
        if (this.headerBytes < HEADER_BYTES) return;
        this.headerBytes = 0;
        header = this.header;
      }
      const stream = STREAMS[header[0]];
      if (!stream) {
        // As dockerode does: not a frame header, so not a multiplexed stream; pass it on unchanged.
        this.raw = true;
        this.handOn();
        this.onOutput('stdout', Buffer.concat([header, chunk.subarray(at)]));
        return;
      }
      this.stream = stream;
      this.remaining = header.readUInt32BE(4);
    }
  }

  /**
   * One read holds the end of a frame, whole frames and the start of the next: one piece of output
   * for all of them (a copy of at most a read) costs less downstream than a message for each.
   */
  private gather(piece: Buffer): void {
    if (this.gathered.length > 0 && this.gatheredStream !== this.stream) this.handOn();
    this.gatheredStream = this.stream;
    this.gathered.push(piece);
  }

  private handOn(): void {
    const pieces = this.gathered;
    if (pieces.length === 0) return;
    this.gathered = [];
    this.onOutput(this.gatheredStream, pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
  }
}
