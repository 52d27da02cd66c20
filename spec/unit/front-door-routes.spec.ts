import { expect } from 'chai';
import { createSecureContext } from 'node:tls';
import { WorkerRoutes, routeTable } from '../../lib/server/front-door-routes';
import { WebSites, nextUpstream, type Site, type Upstream } from '../../lib/server/web-sites';

const site = (fqdn: string, cluster: string, members: string[], extra: Partial<Site> = {}): Site => ({ fqdn, cluster, session: 's1', members, cursor: 0, ...extra });

describe('front-door routes (the copy a worker serves from)', () => {
  const running: Record<string, Upstream> = {
    a: { id: 'a', ip: '10.0.0.2' },
    b: { id: 'b', ip: '10.0.0.3' },
    far: { id: 'far', ip: '10.1.0.2', dial: () => Promise.reject(new Error('not in a unit spec')) },
  };
  const resolve = (id: string) => running[id];

  it('copies plain-HTTP sites and their running members; TLS sites and stopped members stay with the location', () => {
    const sites = new WebSites(['localhost']);
    sites.publish(site('www.localhost', 'c1', ['a', 'stopped', 'b'], { rewrite: 'inner' }));
    sites.publish(site('far.localhost', 'c2', ['far', 'a']));
    sites.publish(site('tls.localhost', 'c3', ['a'], { tls: createSecureContext({}) }));
    const table = routeTable(sites, resolve);
    expect(table.sites).to.deep.equal([
      { fqdn: 'www.localhost', rewrite: 'inner', members: ['a', 'stopped', 'b'] },
      { fqdn: 'far.localhost', rewrite: undefined, members: ['far', 'a'] },
    ]);
    expect(table.upstreams).to.deep.equal([['a', '10.0.0.2', false], ['b', '10.0.0.3', false], ['far', '10.1.0.2', true]]);
  });

  it('routes Host headers by name as the location does, balances round-robin, and keeps the cursor across a refresh', () => {
    const sites = new WebSites(['localhost']);
    sites.publish(site('www.localhost', 'c1', ['a', 'b']));
    sites.publish(site('far.localhost', 'c2', ['far']));
    const routes = new WorkerRoutes();
    routes.load(JSON.parse(JSON.stringify(routeTable(sites, resolve)))); // as it crosses IPC
    expect(routes.route('WWW.localhost.:8080')?.fqdn).to.equal('www.localhost');
    expect(routes.route('127.0.0.1'), 'an address').to.equal(undefined);
    expect(routes.route('[::1]:80'), 'an IPv6 address').to.equal(undefined);
    expect(routes.route('nobody.localhost')).to.equal(undefined);
    const www = routes.route('www.localhost')!;
    expect(nextUpstream(www, routes.resolve, new Set())?.ip).to.equal('10.0.0.2');
    routes.load(routeTable(sites, resolve));
    expect(nextUpstream(routes.route('www.localhost')!, routes.resolve, new Set())?.ip, 'the next member after a refresh').to.equal('10.0.0.3');
    // A dialled member is marked so: the fast path hands its requests to the location.
    expect(nextUpstream(routes.route('far.localhost')!, routes.resolve, new Set())?.dial).to.be.a('function');
  });

  it('tells the front door of every change of names or members', () => {
    const sites = new WebSites(['localhost']);
    let changes = 0;
    sites.onChange = () => changes++;
    sites.publish(site('www.localhost', 'c1', ['a']));
    sites.changed();
    sites.forgetContainer('a');
    sites.unpublish('c1');
    expect(changes).to.equal(4);
  });
});
