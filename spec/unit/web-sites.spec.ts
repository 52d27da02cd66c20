import { expect } from 'chai';
import { BadRequest, DomainInUse, NotFound } from '../../lib/protocol';
import { WebSites, nextUpstream, type Site, type Upstream } from '../../lib/server/web-sites';

const site = (fqdn: string, cluster: string, members: string[], session = 's1'): Site => ({ fqdn, cluster, session, members, cursor: 0 });

describe('web sites (which cluster answers for which name)', () => {
  const sites = () => new WebSites(['localhost', 'apps.example.com']);

  it('takes host names in its domains, normalised, and refuses addresses and other domains', () => {
    expect(sites().checkName('WWW.Localhost.')).to.equal('www.localhost');
    expect(sites().checkName('a.b.apps.example.com')).to.equal('a.b.apps.example.com');
    expect(() => sites().checkName('10.0.0.1')).to.throw(BadRequest, /is an address/);
    expect(() => sites().checkName('under_score.localhost')).to.throw(BadRequest, /not a valid host name/);
    expect(() => sites().checkName('-dash.localhost')).to.throw(BadRequest);
    expect(() => sites().checkName('www.example.com')).to.throw(NotFound, /serves: localhost, apps.example.com/);
    expect(() => sites().checkName('evillocalhost')).to.throw(NotFound);
  });

  it('gives each name to one cluster; unpublishing frees it', () => {
    const s = sites();
    s.publish(site('a.localhost', 'c1', []));
    expect(() => s.publish(site('a.localhost', 'c2', [], 's2'))).to.throw(DomainInUse, /another session/);
    expect(() => s.publish(site('b.localhost', 'c1', []))).to.throw(BadRequest, /already published/);
    expect(s.lookup('A.LOCALHOST.')?.cluster).to.equal('c1');
    expect(() => s.ofCluster('c1', 's2')).to.throw(NotFound);
    expect(s.clustersOf('s1')).to.deep.equal(['c1']);
    s.unpublish('c1');
    expect(s.lookup('a.localhost')).to.equal(undefined);
    s.publish(site('a.localhost', 'c2', [], 's2'));
  });

  it('says the routes changed when a member starts, stops or moves, and only then', () => {
    const s = sites();
    let changes = 0;
    s.onChange = () => changes++;
    s.publish(site('a.localhost', 'c1', ['x']));
    expect(changes, 'publish').to.equal(1);
    s.memberChanged('x');
    expect(changes, 'a member').to.equal(2);
    s.memberChanged('stranger');
    expect(changes, 'a container of no site').to.equal(2);
    s.forgetContainer('x');
    expect(changes, 'a member destroyed').to.equal(3);
    s.memberChanged('x');
    expect(changes, 'no longer a member').to.equal(3);
  });

  it('balances round-robin over running members, skipping stopped and failed ones', () => {
    const running = new Set(['x', 'y', 'z']);
    const resolve = (id: string): Upstream | undefined => (running.has(id) ? { id, ip: `10.0.0.${id.charCodeAt(0)}` } : undefined);
    const s = site('a.localhost', 'c', ['x', 'y', 'z']);
    const pick = (exclude: string[] = []) => nextUpstream(s, resolve, new Set(exclude))?.id;
    expect([pick(), pick(), pick(), pick()]).to.deep.equal(['x', 'y', 'z', 'x']);
    running.delete('z');
    expect([pick(), pick(), pick()]).to.deep.equal(['y', 'x', 'y']);
    expect(pick(['x'])).to.equal('y');
    expect(pick(['x', 'y'])).to.equal(undefined);
    const all = new WebSites(['localhost']);
    all.publish(s);
    all.forgetContainer('y');
    expect(s.members).to.deep.equal(['x', 'z']);
  });
});
