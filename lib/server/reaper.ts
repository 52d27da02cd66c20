/**
 * Removes containers that a location made for sessions that no longer exist: what a location that
 * crashed or was killed left behind. The engine's labels say what is ours.
 */
import type { Engine } from '../engines/engine';
import { LABEL } from './location-context';

/** `shouldReap` decides per container from its labels; by default, everything of this location. */
export async function reapOrphans(
  engines: Engine[],
  location: string,
  shouldReap: (labels: Record<string, string>) => boolean = () => true,
): Promise<number> {
  let reaped = 0;
  for (const engine of engines) {
    const mine = await engine.list({ [LABEL.location]: location });
    const doomed = mine.filter((c) => shouldReap(c.labels));
    await Promise.all(doomed.map((c) => engine.remove(c.engineId)));
    reaped += doomed.length;
  }
  return reaped;
}

export { processIsGone } from '../shared/process-liveness';
