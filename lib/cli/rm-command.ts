/**
 * `tfnz rm [-f] ID...`: destroy containers of yours, whichever session holds them (a session left
 * by `tfnz run -d` ends with its last container). A running one only with -f, as docker.
 */
import { Location } from '../client/location';
import type { LocationOption } from './output';

export interface RmCommandOptions extends LocationOption {
  force?: boolean;
}

export async function rmCommand(keys: string[], opts: RmCommandOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    for (const key of keys) {
      await (await loc.userContainer(key)).remove({ force: opts.force });
      process.stdout.write(`${key}\n`);
    }
  } finally {
    await loc.disconnect();
  }
}
