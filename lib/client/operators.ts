/** RxJS operators for what users do with container output. */
import { Observable, type OperatorFunction } from 'rxjs';
import type { OutputChunk } from './container';

/**
 * Split a byte stream (container or process output) into text lines, without their line ends.
 * A line split across chunks is joined; a last line with no newline is emitted at completion.
 */
export function lines(): OperatorFunction<OutputChunk | Uint8Array, string> {
  return (source) =>
    new Observable<string>((subscriber) => {
      const decoder = new TextDecoder();
      let partial = '';
      return source.subscribe({
        next(chunk) {
          const bytes = chunk instanceof Uint8Array ? chunk : chunk.data;
          const parts = (partial + decoder.decode(bytes, { stream: true })).split('\n');
          partial = parts.pop()!;
          for (const line of parts) subscriber.next(line.endsWith('\r') ? line.slice(0, -1) : line);
        },
        error: (err) => subscriber.error(err),
        complete() {
          partial += decoder.decode();
          if (partial) subscriber.next(partial);
          subscriber.complete();
        },
      });
    });
}
