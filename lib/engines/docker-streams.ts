/** Pieces every Docker adapter file needs: when an output connection ended, and dockerode's errors in our words. */
import { EngineError, ImageNotFound, SpawnFailed } from '../protocol';
import { markEngineDown } from './engine';

/** Resolves once the stream ended, closed or failed: its output is over either way. */
export function streamEnded(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
}

/** A dockerode failure as an EngineError that says what we were doing; our own errors pass through. */
export function engineError(err: unknown, doing: string): Error {
  if (err instanceof EngineError || err instanceof ImageNotFound || err instanceof SpawnFailed) return err;
  const e = err as { json?: { message?: string }; message?: string; code?: string };
  const detail = e.json?.message ?? e.message ?? String(err);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
    return markEngineDown(new EngineError(`Docker Engine is not reachable while ${doing} (${detail}); is dockerd running?`));
  }
  return new EngineError(`Docker Engine failed while ${doing}: ${detail}`);
}

/** Run a dockerode call, turning its failure into an engineError. */
export async function dockerCall<T>(fn: () => Promise<T>, doing: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw engineError(err, doing);
  }
}
