/** Publishing clusters of containers at host names through the location's front door. */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { BadRequest } from '../../protocol';
import type { CommandHandlers } from './handler';
import { connectable } from './ownership';

/** The TLS context for `ssl` ([certificate PEM, key PEM]), checked against the key and the name. */
function siteCertificate(ssl: [string, string] | undefined, fqdn: string): SecureContext | undefined {
  if (!ssl) return undefined;
  const [cert, key] = ssl;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new BadRequest(`the ssl certificate is not a PEM certificate: ${(err as Error).message}`);
  }
  if (!certificate.checkHost(fqdn)) throw new BadRequest(`the ssl certificate is for ${certificate.subjectAltName ?? certificate.subject}, not ${fqdn}`);
  try {
    return createSecureContext({ cert, key });
  } catch (err) {
    throw new BadRequest(`the ssl certificate and key do not make a TLS identity: ${(err as Error).message}`);
  }
}

export const webCommands = {
  async publish_web(s, p) {
    const fqdn = s.ctx.sites.checkName(p.fqdn);
    const members = [...new Set(p.containers)].map((id) => connectable(s, id, 'cluster member').id);
    s.ctx.quotas.name(s.user);
    s.ctx.sites.publish({ fqdn, cluster: p.cluster, session: s.id, members, rewrite: p.rewrite, tls: siteCertificate(p.ssl, fqdn), cursor: 0 });
    return {};
  },

  async unpublish_web(s, p) {
    s.ctx.sites.ofCluster(p.cluster, s.id);
    s.ctx.sites.unpublish(p.cluster);
    return {};
  },

  async add_to_cluster(s, p) {
    const site = s.ctx.sites.ofCluster(p.cluster, s.id);
    const member = connectable(s, p.container, 'cluster member');
    if (!site.members.includes(member.id)) site.members = [...site.members, member.id];
    s.ctx.sites.changed();
    return {};
  },

  async remove_from_cluster(s, p) {
    const site = s.ctx.sites.ofCluster(p.cluster, s.id);
    site.members = site.members.filter((m) => m !== p.container);
    s.ctx.sites.changed();
    return {};
  },
} satisfies Partial<CommandHandlers>;
