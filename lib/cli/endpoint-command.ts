/** `tfnz endpoint ls`: the domains the location's web front door serves, and its ports. */
import { Location } from '../client/location';
import { printJson, printTable, type LocationOption } from './output';

export interface EndpointLsOptions extends LocationOption {
  json?: boolean;
}

export async function endpointLs(opts: EndpointLsOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    const endpoints = Object.values(loc.state.endpoints);
    if (opts.json) return printJson(endpoints);
    printTable(['DOMAIN', 'HTTP PORT', 'HTTPS PORT'], endpoints.map((e) => [e.domain, String(e.httpPort), String(e.httpsPort)]));
  } finally {
    await loc.disconnect();
  }
}
