/** `tfnz stop ID...`: kill the main process of containers of yours (SIGKILL); they stay, exited, until `tfnz rm`. */
import { Location } from '../client/location';
import type { LocationOption } from './output';

export async function stopCommand(keys: string[], opts: LocationOption): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    for (const key of keys) {
      await (await loc.userContainer(key)).stop();
      process.stdout.write(`${key}\n`); // as docker: each name as given, once done
    }
  } finally {
    await loc.disconnect();
  }
}
