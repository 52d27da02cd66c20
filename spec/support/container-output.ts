/** What a container printed, for specs that run a command to its end. */
import { lastValueFrom, toArray } from 'rxjs';
import { lines, type Container, type Location } from '../../lib/index';

/** Every line the container writes to stdout until it exits, joined with newlines. */
export async function output(ctr: Container): Promise<string> {
  const text = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
  await ctr.ready();
  return (await text).join('\n');
}

/** What `echo text` prints in a busybox container on `loc`: proof that its session works end to end. */
export function echo(loc: Location, text: string): Promise<string> {
  return output(loc.node().spawnContainer('busybox', { command: ['echo', text] }));
}
