/**
 * A domain the location's front door serves. Publishing a cluster at a host name in that domain
 * routes HTTP (and, with a certificate, HTTPS) requests for the name to the cluster's containers,
 * port 80, balanced over the running ones. Sites go when the session that published them ends.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { BadRequest, ConnectFailed, type EndpointInfo } from '../protocol';
import { Container } from './container';
import type { Cluster } from './cluster';
import type { SessionContext } from './session-context';

/** Options of `WebEndpoint.publish`. */
export interface PublishOptions {
  /** [certificate PEM, private key PEM] (text, not file names): serve HTTPS; plain HTTP redirects to it. */
  ssl?: [string, string];
}

/**
 * A domain the location's front door serves (`Location.endpointFor`): publish clusters at host
 * names in it.
 */
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
   * Options for node's http.request / https.request that reach `fqdn` through the front door with
   * no DNS: to the address this session reached the location on, asking for the name (Host, SNI).
   */
  requestOptions(fqdn: string, opts: { https?: boolean; path?: string } = {}): https.RequestOptions {
    const host = new URL(this.ctx.connection.url).hostname.replace(/^\[|\]$/g, '');
    return {
      host, port: opts.https ? this.httpsPort : this.httpPort, path: opts.path ?? '/',
      headers: { host: fqdn }, servername: opts.https ? fqdn : undefined,
    };
  }

  /**
   * Resolves once GET `path` of `fqdn` through the front door answers 200 (polling every 200 ms);
   * ConnectFailed after `timeout` seconds (default 30). With https, the certificate is not checked.
   */
  async waitHttp200(fqdn: string, opts: { https?: boolean; path?: string; timeout?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeout ?? 30) * 1000;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      last = await statusOf({ ...this.requestOptions(fqdn, opts), rejectUnauthorized: false, agent: false }, opts.https ?? false).then(String, (err: Error) => err.message);
      if (last === '200') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new ConnectFailed(`${fqdn}${opts.path ?? '/'} did not answer 200 through the front door within ${opts.timeout ?? 30}s (last: ${last})`);
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

function statusOf(options: https.RequestOptions, secure: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}
