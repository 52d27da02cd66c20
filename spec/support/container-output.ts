/** What a container printed, for specs that run a command to its end. */
import { lastValueFrom, toArray } from 'rxjs';
import { lines, type Container } from '../../lib/index';

/** Every line the container writes to stdout until it exits, joined with newlines. */
export async function output(ctr: Container): Promise<string> {
  const text = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
  await ctr.ready();
  return (await text).join('\n');
}
