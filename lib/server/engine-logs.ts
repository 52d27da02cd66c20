/**
 * What the location asks each engine to keep of its containers' output. The location streams
 * every byte to its session and keeps the recent history itself (log-history.ts), so by default the
 * engine keeps nothing: Docker's default json-file driver writes every byte to a file on the node
 * that nothing bounds (a user printing in a loop fills the node's disk) and costs dockerd about
 * three times the CPU of the output itself (300 MB of stdout: 15 s with json-file, 4 s without).
 */
import type { EngineLog } from '../engines/engine';
import { BadRequest } from '../protocol';

/** The default: `none`. `engine` leaves the engine's own default (its daemon.json). */
export const DEFAULT_ENGINE_LOGS = 'none';

/** json-file and local files are rotated at this size, two files per container. */
const ROTATE = { 'max-size': '10m', 'max-file': '2' };

/**
 * The log driver for `choice`: `none`, `json-file` or `local` (rotated: at most 20 MiB per
 * container), `engine` (whatever the engine is configured with), or another driver's name, as is.
 */
export function engineLog(choice: string = DEFAULT_ENGINE_LOGS): EngineLog | undefined {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(choice)) {
    throw new BadRequest(`engineLogs '${choice}' is not a log driver's name; use none, json-file, local or engine`);
  }
  if (choice === 'engine') return undefined;
  if (choice === 'json-file' || choice === 'local') return { driver: choice, options: ROTATE };
  return { driver: choice };
}
