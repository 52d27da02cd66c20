/**
 * `tfnz upload IMAGE`: the original `tfcache` — make an image of the local Docker Engine present
 * in the location's cache (only the layers it lacks travel), with a progress bar.
 */
import { Location } from '../client/location';
import { progressBar } from './progress-bar';

export interface UploadCommandOptions {
  location?: string;
  quiet?: boolean;
}

export async function uploadCommand(images: string[], opts: UploadCommandOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true, handleSignals: true });
  try {
    for (const image of images) {
      const layers = await loc.ensureImageUploaded(image, { progress$: opts.quiet ? undefined : progressBar() });
      process.stdout.write(`${image} ${layers.length} layer(s)\n`);
    }
  } finally {
    await loc.disconnect();
  }
}
