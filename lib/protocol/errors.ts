/**
 * Every failure that reaches a user is one of these classes. Both ends compile against this file:
 * the location sends `{ code, message }` and the SDK rebuilds the same class from the code, so
 * `err instanceof ImageNotFound` works whichever side detected the problem.
 */
export class TfnzError extends Error {
  /** Stable, machine-readable name of the failure kind; never changes once published. */
  readonly code: string = 'TFNZ_ERROR';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A parameter or option was missing or of the wrong shape. */
export class BadRequest extends TfnzError {
  override readonly code = 'BAD_REQUEST';
}
/** A frame could not be decoded or did not follow the envelope. */
export class ProtocolError extends TfnzError {
  override readonly code = 'PROTOCOL_ERROR';
}
/** The peer does not know this command (older or newer version). */
export class UnknownCommand extends TfnzError {
  override readonly code = 'UNKNOWN_COMMAND';
}
/** The image is in neither the node's engine nor anywhere the location can get it from. */
export class ImageNotFound extends TfnzError {
  override readonly code = 'IMAGE_NOT_FOUND';
}
/** No container with that id belongs to this session. */
export class ContainerNotFound extends TfnzError {
  override readonly code = 'CONTAINER_NOT_FOUND';
}
/** The container exists but is not running (still spawning, exited or destroyed). */
export class ContainerNotRunning extends TfnzError {
  override readonly code = 'CONTAINER_NOT_RUNNING';
}
/** The container could not be created or started. */
export class SpawnFailed extends TfnzError {
  override readonly code = 'SPAWN_FAILED';
}
/** The location has no node with spare capacity (or none at all). */
export class NoNodes extends TfnzError {
  override readonly code = 'NO_NODES';
}
/** No node with that id is known to the location. */
export class NodeNotFound extends TfnzError {
  override readonly code = 'NODE_NOT_FOUND';
}
/** The node went away while the operation was in progress. */
export class NodeGone extends TfnzError {
  override readonly code = 'NODE_GONE';
}
/** A tag did not follow the rules (the message says which). */
export class InvalidTag extends TfnzError {
  override readonly code = 'INVALID_TAG';
}
/** The tag is already used by another object of the same kind and user. */
export class TagInUse extends TfnzError {
  override readonly code = 'TAG_IN_USE';
}
/** Another cluster (of any session) is published at that host name already. */
export class DomainInUse extends TfnzError {
  override readonly code = 'DOMAIN_IN_USE';
}
/** No tunnel with that id belongs to this session. */
export class TunnelNotFound extends TfnzError {
  override readonly code = 'TUNNEL_NOT_FOUND';
}
/** A local port could not be listened on. */
export class PortInUse extends TfnzError {
  override readonly code = 'PORT_IN_USE';
}
/** The container did not accept a connection on the port before the timeout. */
export class ConnectFailed extends TfnzError {
  override readonly code = 'CONNECT_FAILED';
}
/** A request got no reply in time. */
export class RequestTimeout extends TfnzError {
  override readonly code = 'TIMEOUT';
}
/** The location could not be reached at all. */
export class LocationUnreachable extends TfnzError {
  override readonly code = 'LOCATION_UNREACHABLE';
}
/** The connection to the location closed while something was still waiting on it. */
export class ConnectionLost extends TfnzError {
  override readonly code = 'CONNECTION_LOST';
}
/** The location ended this session (it was away too long, or the location shut down). */
export class SessionExpired extends TfnzError {
  override readonly code = 'SESSION_EXPIRED';
}
/** The container engine refused or failed an operation; the message carries its words. */
export class EngineError extends TfnzError {
  override readonly code = 'ENGINE_ERROR';
}

/** No process with that id belongs to this session (it may have ended already). */
export class ProcessNotFound extends TfnzError {
  override readonly code = 'PROCESS_NOT_FOUND';
}
/** There is no regular file at that path in the container. */
export class FileNotFound extends TfnzError {
  override readonly code = 'FILE_NOT_FOUND';
}

/** A volume is mounted in a container, so it cannot be destroyed or rolled back now. */
export class VolumeInUse extends TfnzError {
  override readonly code = 'VOLUME_IN_USE';
}
/** The location does not admit this user (no key, a wrong proof, or a key it was not told to trust). */
export class Unauthorized extends TfnzError {
  override readonly code = 'UNAUTHORIZED';
}
/** Nothing answers to that uuid, tag or `uuid:tag` for this user. */
export class NotFound extends TfnzError {
  override readonly code = 'NOT_FOUND';
}

/** An uploaded image layer did not match its digest or size; it was discarded (upload it again). */
export class LayerCorrupt extends TfnzError {
  override readonly code = 'LAYER_CORRUPT';
}

// #16
/**
 * A container's wait strategy did not hold within its startup timeout, or the container ended
 * first. The message names the strategy and ends with the container's last output lines, which
 * are also in `lastLines`.
 */
export class StartupTimeout extends TfnzError {
  override readonly code = 'STARTUP_TIMEOUT';
  constructor(message: string, readonly lastLines: string[] = []) {
    super(message);
  }
}

/** A per-user quota or a location limit was reached; the message names the option that raises it. */
export class QuotaExceeded extends TfnzError {
  override readonly code = 'QUOTA_EXCEEDED';
}

/** The location's TLS certificate is not the one pinned in the account (client side; see tls-pinning.ts). */
export class CertificateChanged extends TfnzError {
  override readonly code = 'CERTIFICATE_CHANGED';
}

/** A link the SDK will not use: plain ws:// beyond loopback, or a certificate it cannot trust. */
export class InsecureLink extends TfnzError {
  override readonly code = 'INSECURE_LINK';
}

/**
 * A feature needs a package that is not installed (tfnz keeps dockerode, ssh2 and tar-stream out
 * of a plain `npm install tfnz`); the message names the command that installs it. Raised on this
 * machine only, never sent on the wire.
 */
export class MissingDependency extends TfnzError {
  override readonly code = 'MISSING_DEPENDENCY';
}

/**
 * The image registry refused the credentials, or wants some and got none: log in (docker login
 * writes ~/.docker/config.json, which the SDK reads) or pass `connect({ registryAuth })`.
 */
export class RegistryUnauthorized extends TfnzError {
  override readonly code = 'REGISTRY_UNAUTHORIZED';
}
/** The node could not reach the image registry (refused, no route, no name, TLS not trusted). */
export class RegistryUnreachable extends TfnzError {
  override readonly code = 'REGISTRY_UNREACHABLE';
}

type ErrorClass = new (message: string) => TfnzError;

const byCode = new Map<string, ErrorClass>(
  [
    BadRequest, ProtocolError, UnknownCommand, ImageNotFound, ContainerNotFound, ContainerNotRunning,
    SpawnFailed, NoNodes, NodeNotFound, NodeGone, InvalidTag, TagInUse, TunnelNotFound, PortInUse,
    ConnectFailed, RequestTimeout, LocationUnreachable, ConnectionLost, SessionExpired, EngineError, NotFound, VolumeInUse, Unauthorized,
    ProcessNotFound, FileNotFound, DomainInUse, LayerCorrupt, StartupTimeout, QuotaExceeded,
    RegistryUnauthorized, RegistryUnreachable,
  ].map((cls) => [new cls('').code, cls]),
);

/** What travels on the wire for an error. */
export interface ErrorBody {
  code: string;
  message: string;
}

/** Longest error message sent: messages may quote what a client sent, which must not echo unbounded. */
export const MAX_ERROR_MESSAGE = 1024;

/** The `{ code, message }` that carries an error to the peer. */
export function errorToWire(err: unknown): ErrorBody {
  const message = err instanceof Error ? err.message : String(err);
  const bounded = message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}… (${message.length - MAX_ERROR_MESSAGE} more characters)` : message;
  return { code: err instanceof TfnzError ? err.code : 'TFNZ_ERROR', message: bounded };
}

/** Rebuild the typed error a peer sent; unknown codes become a plain TfnzError. */
export function errorFromWire(body: ErrorBody): TfnzError {
  const cls = byCode.get(body.code);
  if (cls) return new cls(body.message);
  const err = new TfnzError(body.message);
  Object.defineProperty(err, 'code', { value: body.code });
  return err;
}
