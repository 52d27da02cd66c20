import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequest } from '../../lib/protocol';
import { parseImageReference } from '../../lib/shared/registry-reference';
import { registryCredentials } from '../../lib/client/registry-auth';

describe('image references as Docker reads them (#19)', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io', 'docker.io/library/busybox:1.36'],
    ['team/app', 'docker.io', 'docker.io/team/app:latest'],
    ['docker.io/busybox', 'docker.io', 'docker.io/library/busybox:latest'],
    ['index.docker.io/team/app:2', 'docker.io', 'docker.io/team/app:2'],
    ['localhost/app', 'localhost', 'localhost/app:latest'],
    ['127.0.0.1:5443/team/app:1.2', '127.0.0.1:5443', '127.0.0.1:5443/team/app:1.2'],
    ['registry.example:5443/a/b/c', 'registry.example:5443', 'registry.example:5443/a/b/c:latest'],
    [`app@sha256:${'a'.repeat(64)}`, 'docker.io', `docker.io/library/app@sha256:${'a'.repeat(64)}`],
    [`r.example/app:1@sha256:${'b'.repeat(64)}`, 'r.example', `r.example/app:1@sha256:${'b'.repeat(64)}`],
  ];
  for (const [ref, registry, canonical] of cases) {
    it(`${ref} → ${canonical}`, () => {
      const parsed = parseImageReference(ref);
      expect(parsed.registry).to.equal(registry);
      expect(parsed.canonical).to.equal(canonical);
    });
  }

  it('refuses what Docker refuses, saying which part is wrong', () => {
    for (const [ref, says] of [['Busybox', 'lower-case'], ['app@sha256:abc', 'digest'], ['app:-x', 'tag'], ['', '1 to 255'], ['a'.repeat(256), '1 to 255']]) {
      expect(() => parseImageReference(ref), ref).to.throw(BadRequest, says);
    }
  });
});

describe('registry credentials: connect({ registryAuth }), then the Docker config (#19)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tfnz-docker-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const config = (auths: unknown) => writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths }));

  it('reads base64 user:password and bare username/password entries, keyed by host or URL', () => {
    config({
      'https://index.docker.io/v1/': { auth: Buffer.from('hub:p:w').toString('base64') },
      'https://127.0.0.1:5443': { username: 'u', password: 'p' },
    });
    expect(registryCredentials('docker.io', { dockerConfig: dir })).to.deep.equal({ username: 'hub', password: 'p:w' });
    expect(registryCredentials('127.0.0.1:5443', { dockerConfig: dir })).to.deep.equal({ username: 'u', password: 'p' });
    expect(registryCredentials('other.example', { dockerConfig: dir })).to.equal(undefined);
  });

  it('prefers explicit credentials, and reads no config when told not to or when there is none', () => {
    config({ 'r.example': { username: 'file', password: 'f' } });
    expect(registryCredentials('r.example', { dockerConfig: dir, registryAuth: { 'r.example': { username: 'mine', password: 'm' } } }))
      .to.deep.equal({ username: 'mine', password: 'm' });
    expect(registryCredentials('r.example', { dockerConfig: false })).to.equal(undefined);
    expect(registryCredentials('r.example', { dockerConfig: join(dir, 'absent') })).to.equal(undefined);
  });
});
