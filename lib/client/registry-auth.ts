/**
 * Credentials for image registries, as Docker and testcontainers find them: first
 * `connect({ registryAuth })`, then the `auths` of the Docker config ($DOCKER_CONFIG/config.json,
 * else ~/.docker/config.json) that `docker login` writes: `auth` is base64 of `user:password`, or
 * `username` and `password` stand alone. Keys may be a bare host[:port] or a URL of it; Docker Hub
 * is stored as https://index.docker.io/v1/. Credential helpers (`credsStore`, `credHelpers`) are
 * not run: a registry only they know gets no credentials (the pull then says RegistryUnauthorized).
 * The file is read at each lookup, so a `docker login` during the session counts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BadRequest, type RegistryAuth } from '../protocol';

/** Where credentials come from: explicit ones by registry host, and a Docker config directory (or none). */
export interface RegistryAuthSources {
  registryAuth?: Record<string, RegistryAuth>;
  /** A Docker config directory; false reads none. Default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfig?: string | false;
}

const HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/** `https://index.docker.io/v1/` → `docker.io`; `127.0.0.1:5443` stays. */
function registryHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return HUB_ALIASES.includes(host) ? 'docker.io' : host;
}

/** The credentials for `registry` (a normalised host[:port], `docker.io` for Docker Hub), if any are known. */
export function registryCredentials(registry: string, sources: RegistryAuthSources = {}): RegistryAuth | undefined {
  const wanted = registryHost(registry);
  for (const [key, auth] of Object.entries(sources.registryAuth ?? {})) {
    if (registryHost(key) !== wanted) continue;
    if (typeof auth?.username !== 'string' || typeof auth?.password !== 'string') {
      throw new BadRequest(`registryAuth['${key}'] must be { username, password }`);
    }
    return { username: auth.username, password: auth.password };
  }
  if (sources.dockerConfig === false) return undefined;
  const dir = sources.dockerConfig ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  let auths: Record<string, { auth?: string; username?: string; password?: string }> = {};
  try {
    auths = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { auths?: typeof auths }).auths ?? {};
  } catch {
    return undefined; // no Docker config, or one we cannot read: no credentials, as docker itself
  }
  for (const [key, entry] of Object.entries(auths)) {
    if (registryHost(key) !== wanted || !entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}
