/**
 * The field kinds the catalogue is made of, each with the rule the location enforces on it. Rules
 * that need the location's state (does the container exist, is the tag free) live in the handler.
 */
import { posix } from 'node:path';
import { BadRequest } from './errors';
import { validTag } from './tags';
import { array, bytes, either, int, refine, string, tuple } from './schema';

/** Most layers one image may have (Docker's own limit is 127 on overlay2). */
export const MAX_IMAGE_LAYERS = 256;
/** Longest a tunnel waits for the container's port to accept a connection. */
export const MAX_TUNNEL_TIMEOUT_S = 600;
/** Longest wait_tcp / wait_http_200 wait. */
export const MAX_WAIT_S = 3600;
/** Largest image config JSON put_image_description takes. */
export const MAX_IMAGE_CONFIG_BYTES = 4 * 1024 * 1024;
/** Largest Dockerfile a build takes (it travels in the build_image request). */
export const MAX_DOCKERFILE_BYTES = 1024 * 1024;
/** Largest pty, in columns and rows. */
export const MAX_PTY_SIZE = 10_000;

/** A name of something that exists: looked up by the handler, which says when it is not found. */
export const name = () => string();

/** A fresh id the client made for a new container, process, tunnel, transfer or cluster. */
export const newId = () => string({ pattern: /^[A-Za-z0-9_-]{8,64}$/, expected: '8-64 characters of A-Z a-z 0-9 _ -' });

export const port = () => int(1, 65535);

/** A tag, stored lower case; an InvalidTag names the rule it broke. */
export const tag = () => refine(string(), (t) => validTag(t));

export const digest = () => string({ pattern: /^sha256:[0-9a-f]{64}$/, expected: 'sha256: and 64 hex digits' });

export const layers = () => array(digest(), { min: 1, max: MAX_IMAGE_LAYERS });

/** An absolute path of a file inside the container, normalised: `..` cannot climb above its root. */
export const filePath = () =>
  refine(string(), (raw, path) => {
    if (!raw.startsWith('/') || raw.includes('\0')) throw new BadRequest(`'${path}' must be an absolute path inside the container, e.g. /etc/motd (got '${raw}')`);
    const normal = posix.normalize(raw);
    if (normal === '/' || normal.endsWith('/')) throw new BadRequest(`'${path}' must name a file, not a folder (got '${raw}')`);
    return normal;
  }, 'an absolute path of a file');

/** Where a volume is mounted: an absolute path below /, normalised. */
export const mountPoint = () =>
  refine(string(), (raw, path) => {
    const normal = posix.normalize(raw);
    if (!posix.isAbsolute(normal) || normal === '/') throw new BadRequest(`mount point '${raw}' (${path}) must be an absolute path below /`);
    return normal;
  }, 'an absolute path below /');

/** [volume key, mount point] pairs whose mount points do not nest in one another. */
export const volumeMounts = () =>
  refine(array(tuple(name(), mountPoint())), (pairs) => {
    pairs.forEach(([, target], i) => {
      const clash = pairs.slice(0, i).find(([, t]) => t === target || t.startsWith(`${target}/`) || target.startsWith(`${t}/`));
      if (clash) throw new BadRequest(`mount points '${clash[1]}' and '${target}' overlap; mount volumes side by side`);
    });
    return pairs;
  });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** [name, value] environment variables. */
export const envPairs = () =>
  array(tuple(
    refine(string(), (n) => {
      if (!ENV_NAME.test(n)) throw new BadRequest(`environment variable name '${n}' must match ${ENV_NAME.source}`);
      return n;
    }, 'a variable name'),
    string({ empty: true }),
  ));

/** Contents of a file: bytes, or text taken as UTF-8. */
export const contents = () => either(bytes(), string({ empty: true }), (v): Uint8Array => (typeof v === 'string' ? Buffer.from(v) : v));

/** A host name, optionally with :port, to put in a Host header. */
export const hostHeader = () => string({ pattern: /^[A-Za-z0-9.-]+(:\d{1,5})?$/, expected: 'a host name (optionally :port) to put in the Host header' });

/** The path part of a URL. */
export const urlPath = () => string({ pattern: /^\//, expected: 'a path starting with /' });
