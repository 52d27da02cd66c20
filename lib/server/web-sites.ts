/**
 * The sites the front door serves: which cluster answers for which host name. A site is published
 * by one session; its members are container ids, balanced round-robin over the running ones.
 * Routing is by name only: a host name ends in one of the location's domains, never a raw IP.
 */
import { isIP, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { BadRequest, DomainInUse, NotFound } from '../protocol';

export interface Site {
  readonly fqdn: string;
  readonly cluster: string;
  /** The session that published it: the site goes when that session ends. */
  readonly session: string;
  /** Container ids, in the order they joined. */
  members: string[];
  readonly rewrite?: string;
  /** Present when published with ssl: HTTPS is served, plain HTTP redirects to it. */
  readonly tls?: SecureContext;
  /** Round-robin cursor into `members`. */
  cursor: number;
}

/** A member a request may go to: running, with an address. */
export interface Upstream {
  id: string;
  ip: string;
  /** How to reach `port` at `ip` when the location cannot route to it (container-dial.ts). */
  dial?: (port: number) => Promise<Socket>;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export class WebSites {
  private readonly byName = new Map<string, Site>();
  private readonly byCluster = new Map<string, Site>();

  /** Called after every change of names, members, or a member's status or address (front-door workers keep a copy of the routes). */
  onChange: (() => void) | undefined;

  constructor(readonly domains: readonly string[]) {}

  /** Every published site. */
  all(): IterableIterator<Site> {
    return this.byName.values();
  }

  /** Says that a site's members changed (they are assigned in place). */
  changed(): void {
    this.onChange?.();
  }

  /** A host name this location may serve, normalised (lower case, no trailing dot); BadRequest otherwise. */
  checkName(fqdn: string): string {
    const name = fqdn.toLowerCase().replace(/\.$/, '');
    if (isIP(name)) throw new BadRequest(`'${fqdn}' is an address; sites are published by name, e.g. www.${this.domains[0] ?? 'example.com'}`);
    if (name.length > 253 || !name.split('.').every((l) => LABEL.test(l))) throw new BadRequest(`'${fqdn}' is not a valid host name`);
    if (!this.domains.some((d) => name === d || name.endsWith(`.${d}`))) {
      throw new NotFound(`this location serves no domain for '${fqdn}'; it serves: ${this.domains.join(', ') || 'none'}`);
    }
    return name;
  }

  publish(site: Site): void {
    if (this.byCluster.has(site.cluster)) throw new BadRequest(`cluster ${site.cluster} is already published; unpublish it first`);
    const holder = this.byName.get(site.fqdn);
    if (holder) throw new DomainInUse(`${site.fqdn} is already published by ${holder.session === site.session ? 'this' : 'another'} session; unpublish it there first, or pick another name`);
    this.byName.set(site.fqdn, site);
    this.byCluster.set(site.cluster, site);
    this.changed();
  }

  /** The site of a cluster, if `session` published it. */
  ofCluster(cluster: string, session: string): Site {
    const site = this.byCluster.get(cluster);
    if (!site || site.session !== session) throw new NotFound(`cluster ${cluster} is not published by this session`);
    return site;
  }

  unpublish(cluster: string): void {
    const site = this.byCluster.get(cluster);
    if (!site) return;
    this.byCluster.delete(cluster);
    this.byName.delete(site.fqdn);
    this.changed();
  }

  /** Every site the session published (to collect them when it ends). */
  clustersOf(session: string): string[] {
    return [...this.byCluster.values()].filter((s) => s.session === session).map((s) => s.cluster);
  }

  /** The site for a request's host name (any case, port and trailing dot ignored). */
  lookup(host: string): Site | undefined {
    return this.byName.get(host.toLowerCase().replace(/\.$/, ''));
  }

  /** A container's status or address changed: the routes change with it when it is a member of a site. */
  memberChanged(id: string): void {
    if (!this.onChange) return; // nobody keeps a copy of the routes
    for (const site of this.byCluster.values()) if (site.members.includes(id)) return this.changed();
  }

  /** A destroyed container leaves every cluster. */
  forgetContainer(id: string): void {
    for (const site of this.byCluster.values()) site.members = site.members.filter((m) => m !== id);
    this.changed();
  }
}

/** The port of a site's members the front door sends requests to. */
export const UPSTREAM_PORT = 80;
/** How often one request may be sent again (to other members, or after a pause to the same ones). */
export const MAX_ATTEMPTS = 12;
/** The pause before trying members that all refused, times the attempt number: ~3 s in all. */
export const RETRY_PAUSE_MS = 50;

/**
 * The next running member after the cursor, skipping `exclude` (members a request already failed
 * on); advances the cursor so successive requests spread over the members.
 */
export function nextUpstream(site: Site, resolve: (id: string) => Upstream | undefined, exclude: ReadonlySet<string>): Upstream | undefined {
  const n = site.members.length;
  for (let i = 0; i < n; i++) {
    const id = site.members[(site.cursor + i) % n];
    const up = exclude.has(id) ? undefined : resolve(id);
    if (up) {
      site.cursor = (site.cursor + i + 1) % n;
      return up;
    }
  }
  return undefined;
}
