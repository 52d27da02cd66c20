/**
 * Reads a container's or process's output the way a chatty producer is cheapest to read. A web
 * container writes one access-log line per request, and each line cost the location a wake-up, a
 * read and a trip through the demuxer, the log history and the session's batch: 40-60 µs of its
 * CPU per line (#17, front-door bench). So a small read rests the source for OUTPUT_REST_MS:
 * what the producer writes meanwhile gathers in the socket's buffer and arrives in one read. A
 * large read never rests, so bulk output keeps its pace; the rest adds no delay to a first line,
 * and to the others less than the session's own output batching (output-batch.ts) already does.
 *
 * The caller's pause (flow control: a congested or absent session) is kept apart from the rest:
 * the source reads again only when neither holds it. The source must stop reading at the socket
 * when paused (docker-hijack.ts's connections do), or resting saves nothing.
 */
import type { OutputStream } from '../protocol';
import { DockerDemuxer } from './docker-demux';

/** A read smaller than this rests the source; bulk output arrives in reads of up to 64 KiB. */
export const SMALL_READ_BYTES = 8 * 1024;
/** How long a small read rests the source (half the session's output batching, so both fit one batch). */
export const OUTPUT_REST_MS = 5;

type Output = (stream: OutputStream, data: Buffer) => void;

/** What output is read from: a connection that can stop and start reading. */
export interface PausableSource {
  pause(): void;
  resume(): void;
}

export class OutputReader {
  private readonly demuxer?: DockerDemuxer;
  private readonly deliver: (data: Buffer) => void;
  private held = false;
  private resting?: NodeJS.Timeout;

  /** `tty`: the output is one raw stream (stdout); else Docker's multiplexed stdout and stderr. */
  constructor(private readonly source: PausableSource, tty: boolean, onOutput: Output) {
    if (tty) this.deliver = (data) => onOutput('stdout', data);
    else {
      const demuxer = new DockerDemuxer(onOutput);
      this.deliver = (data) => demuxer.push(data);
    }
  }

  /** One read's bytes. */
  take(data: Buffer): void {
    this.deliver(data);
    if (data.length < SMALL_READ_BYTES && !this.resting && !this.held) {
      this.source.pause();
      this.resting = setTimeout(() => {
        this.resting = undefined;
        if (!this.held) this.source.resume();
      }, OUTPUT_REST_MS);
    }
  }

  /** Flow control: stop reading until `resume()`. */
  pause(): void {
    this.held = true;
    this.source.pause();
  }

  resume(): void {
    this.held = false;
    if (!this.resting) this.source.resume();
  }

  /** The source ended: no rest to wake from. */
  stop(): void {
    if (this.resting) clearTimeout(this.resting);
    this.resting = undefined;
  }
}
