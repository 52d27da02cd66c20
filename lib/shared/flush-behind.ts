/**
 * Write-behind for a large file being kept: its bytes go to disk every FLUSH_BYTES while the rest
 * arrives, instead of staying in memory as dirty pages. Left to the kernel, a 180 MiB image stays
 * dirty for seconds, and the next engine on this disk to sync (Docker syncs on every container
 * create and layer apply) waits for all of it: with 180 MiB dirty, a create took 380 ms instead
 * of 45, right when the spawn after an upload or a build made one (#17).
 */

/** Bytes written between two flushes. */
export const FLUSH_BYTES = 8 * 2 ** 20;

export interface FlushBehind {
  /** `bytes` more were written: a flush starts when FLUSH_BYTES gathered and none runs. */
  wrote(bytes: number): void;
  /** Resolves once no flush runs (never rejects: a failing disk fails the writes themselves). */
  settled(): Promise<void>;
}

/** `datasync` flushes the file's data (FileHandle.datasync, fs.fdatasync): one at a time, never awaited by the writes. */
export function flushBehind(datasync: () => Promise<void>, every = FLUSH_BYTES): FlushBehind {
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  return {
    wrote(bytes) {
      unflushed += bytes;
      if (unflushed < every || flushing) return;
      unflushed = 0;
      flushing = datasync().catch(() => undefined).finally(() => (flushing = undefined));
    },
    settled: () => flushing ?? Promise.resolve(),
  };
}
