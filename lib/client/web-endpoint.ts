/**
 * A domain the location's front door serves. Publishing a cluster at a host name in that domain
 * routes HTTP (and, with a certificate, HTTPS) requests for the name to the cluster's containers,
 * port 80, balanced over the running ones. Sites go when the session that published them ends.
 */
import { BadRequest, type EndpointInfo } from '../protocol';
import { Container } from './container';
import type { Cluster } from './cluster';
import type { SessionContext } from './session-context';

export interface PublishOptions {
  /** [certificate PEM, private key PEM] (text, not file names): serve HTTPS; plain HTTP redirects to it. */
  ssl?: [string, string];
}

export class WebEndpoint {
  /** @internal Use `loc.endpointFor(fqdn)`. */
  constructor(readonly info: EndpointInfo, private readonly ctx: SessionContext) {}

  get domain(): string {
    return this.info.domain;
  }
  /** The front door's HTTP port. */
  get httpPort(): number {
    return this.info.httpPort;
  }
  /** The front door's HTTPS port. */
  get httpsPort(): number {
    return this.info.httpsPort;
  }

  /** True when this endpoint's domain covers `fqdn`. */
  serves(fqdn: string): boolean {
    const name = fqdn.toLowerCase().replace(/\.$/, '');
    return name === this.domain || name.endsWith(`.${this.domain}`);
  }

  /** Route requests for `fqdn` to `cluster`. DomainInUse when another cluster has the name. */
  async publish(cluster: Cluster, fqdn: string, opts: PublishOptions = {}): Promise<void> {
    if (!this.serves(fqdn)) throw new BadRequest(`${fqdn} is not in ${this.domain}; find its endpoint with loc.endpointFor('${fqdn}')`);
    if (cluster.fqdn) throw new BadRequest(`the cluster is already published at ${cluster.fqdn}; unpublish it first`);
    await Promise.all(cluster.containers.map((c) => (c instanceof Container ? c.ready() : c)));
    await this.ctx.connection.request('publish_web', {
      cluster: cluster.id, fqdn, containers: cluster.containers.map((c) => c.id), rewrite: cluster.rewrite, ssl: opts.ssl,
    });
    cluster.published(this.ctx, fqdn.toLowerCase().replace(/\.$/, ''));
  }

  /** Stop serving the cluster's host name (its containers keep running). A no-op if it is not published. */
  async unpublish(cluster: Cluster): Promise<void> {
    if (!cluster.fqdn) return;
    await this.ctx.connection.request('unpublish_web', { cluster: cluster.id });
    cluster.unpublished();
  }

  /**
   * The URL of `fqdn` on the front door, e.g. for a program on the location's machine. The name
   * must resolve to the location (DNS; `*.localhost` names resolve to this machine in browsers and curl).
   */
  url(fqdn: string, opts: { https?: boolean; path?: string } = {}): string {
    const [scheme, port, standard] = opts.https ? ['https', this.httpsPort, 443] : ['http', this.httpPort, 80];
    return `${scheme}://${fqdn}${port === standard ? '' : `:${port}`}${opts.path ?? '/'}`;
  }
}
