/** The SDK's session link as it goes ('lost', then 'resumed'): internal, read by specs of network loss. */
import { filter, firstValueFrom, type Observable } from 'rxjs';
import type { Location } from '../../lib/index';

type Link = 'lost' | 'resumed';

/** Every change of `loc`'s session link, from now on. */
export function linkChanges(loc: Location): Observable<Link> {
  return (loc as unknown as { connection: { link$: Observable<Link> } }).connection.link$;
}

/** Resolves the next time `loc`'s link turns `state`; call it before what causes the change. */
export function nextLink(loc: Location, state: Link): Promise<Link> {
  return firstValueFrom(linkChanges(loc).pipe(filter((l) => l === state)));
}
