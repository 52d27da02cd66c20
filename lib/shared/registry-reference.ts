/**
 * Image references as Docker reads them (distribution's `reference` package, in brief):
 * `[domain/]path[:tag][@digest]`, where the first component is a domain only when it has a dot or
 * a colon or is `localhost`; without one the domain is `docker.io`, and a one-component path there
 * gets `library/`. No tag and no digest means `:latest`. Both sides use this: the SDK to choose
 * credentials by registry, the location to name what it pulls and to match what a node holds.
 */
import { BadRequest } from '../protocol/errors';

/** An image reference, parsed and normalised. */
export interface ImageReference {
  /** Registry host (and port): `docker.io`, `127.0.0.1:5443`. */
  registry: string;
  /** Repository path within the registry: `library/busybox`, `team/app`. */
  path: string;
  /** Tag: `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** `sha256:…` when the reference pins one. */
  digest?: string;
  /** `registry/path`: the repository, as RepoDigests name it once normalised. */
  repository: string;
  /** The whole reference, normalised: what the node pulls. */
  canonical: string;
}

const DEFAULT_REGISTRY = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

/** Parse `ref` as Docker does; BadRequest naming the part that is wrong. */
export function parseImageReference(ref: string): ImageReference {
  if (typeof ref !== 'string' || ref === '' || ref.length > 255) throw new BadRequest(`image reference must be 1 to 255 characters (got ${String(ref).length})`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new BadRequest(`'${ref}': a digest must be sha256: and 64 hex digits`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new BadRequest(`'${ref}': a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
  }
  const parts = rest.split('/');
  let registry = DEFAULT_REGISTRY;
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) throw new BadRequest(`'${ref}': '${registry}' is not a registry host[:port]`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) throw new BadRequest(`'${ref}': repository names are lower-case letters, digits and separators ('${p}' is not)`);
  }
  if (!tag && !digest) tag = 'latest';
  const path = parts.join('/');
  const repository = `${registry}/${path}`;
  const canonical = `${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { registry, path, tag, digest, repository, canonical };
}

/** The repository `ref` names (normalised), or undefined when it is not a reference at all (an image id). */
export function repositoryOf(ref: string): string | undefined {
  try {
    return parseImageReference(ref).repository;
  } catch {
    return undefined;
  }
}
