/**
 * The routes a front-door worker serves from (front-door-worker.ts): the location's plain-HTTP
 * sites and their running members' addresses, copied over IPC whenever they change. A copy, so
 * the worker's answer to "where does this host go" costs no message to the location; anything
 * it does not find here (a new name, a site with no member up, one on TLS, a dialled member) it
 * hands back to the location, whose own front door answers from the live state.
 */
import { isIP } from 'node:net';
import type { Site, Upstream, WebSites } from './web-sites';

/** What a worker gets: each plain-HTTP site, and each of their members that runs now. */
export interface RouteTable {
  sites: { fqdn: string; rewrite?: string; members: string[] }[];
  /** id, address, and whether the location reaches it only by dialling (another host). */
  upstreams: [id: string, ip: string, dialled: boolean][];
}

/** The table of the location's sites as they are now. */
export function routeTable(sites: WebSites, resolve: (container: string) => Upstream | undefined): RouteTable {
  const table: RouteTable = { sites: [], upstreams: [] };
  const seen = new Set<string>();
  for (const site of sites.all()) {
    if (site.tls) continue; // served over TLS by the location only
    table.sites.push({ fqdn: site.fqdn, rewrite: site.rewrite, members: site.members });
    for (const id of site.members) {
      if (seen.has(id)) continue;
      seen.add(id);
      const up = resolve(id);
      if (up) table.upstreams.push([id, up.ip, up.dial !== undefined]);
    }
  }
  return table;
}

/** Stands for a dialled member: the fast path never dials, it only checks that one is there. */
const NOT_HERE = (): Promise<never> => Promise.reject(new Error('a front-door worker does not dial'));

/** A worker's copy of the routes, looked up as the location's front door looks up its own. */
export class WorkerRoutes {
  private sites = new Map<string, Site>();
  private upstreams = new Map<string, Upstream>();
  /** Host headers already read, and the name each stands for (undefined: an address or nothing). */
  private readonly names = new Map<string, string | undefined>();

  load(table: RouteTable): void {
    const sites = new Map<string, Site>();
    for (const s of table.sites) {
      // The round-robin cursor carries over, so a refresh does not send everyone to the first member.
      const cursor = this.sites.get(s.fqdn)?.cursor ?? 0;
      sites.set(s.fqdn, { fqdn: s.fqdn, rewrite: s.rewrite, members: s.members, cluster: '', session: '', cursor: cursor % Math.max(1, s.members.length) });
    }
    this.sites = sites;
    this.upstreams = new Map(table.upstreams.map(([id, ip, dialled]) => [id, dialled ? { id, ip, dial: NOT_HERE } : { id, ip }]));
  }

  /** The site a Host header names, when it is a plain-HTTP site this copy knows. */
  route(header: string): Site | undefined {
    let name = this.names.get(header);
    if (name === undefined && !this.names.has(header)) {
      const host = hostName(header);
      name = host && !isIP(host) ? host : undefined;
      if (this.names.size >= 1024) this.names.clear(); // many names (a scan): forget, stay bounded
      this.names.set(header, name);
    }
    return name === undefined ? undefined : this.sites.get(name);
  }

  resolve = (container: string): Upstream | undefined => this.upstreams.get(container);
}

/** The host name of a Host header: lower case, without port or trailing dot. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const bracketed = /^\[([^\]]+)\]/.exec(header);
  const name = bracketed ? bracketed[1] : header.replace(/:\d+$/, '');
  return name.toLowerCase().replace(/\.$/, '') || undefined;
}
