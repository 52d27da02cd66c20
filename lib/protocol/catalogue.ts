/**
 * The one contract: every request, one-way message and event, declared once. Requests and
 * one-way messages are schemas (schema.ts) that give both ends their types and the location its
 * run-time check of every incoming frame; events, which only the location sends, are types.
 * Rename a field here and both the SDK's call and the location's handler stop compiling.
 */
import type { ContainerInfo, ContainerStatus, NodeInfo, NodeStats, OutputStream, ResourceOffer, VolumeInfo, ExternalInfo } from './types';
import type { ErrorBody } from './errors';
import type { ContainerStats, LogLine, PullProgress } from './types';
import {
  array, boolean, bytes, int, object, oneOf, optional, string, tuple,
  type Input, type ObjectSchema, type Output, type Shape,
} from './schema';
import {
  MAX_DOCKERFILE_BYTES, MAX_IMAGE_CONFIG_BYTES, MAX_PTY_SIZE, MAX_TUNNEL_TIMEOUT_S, MAX_WAIT_S, contents, digest, envPairs, filePath,
  hostHeader, layers, name, newId, port, tag, urlPath, volumeMounts,
} from './fields';

export { MAX_IMAGE_LAYERS, MAX_TUNNEL_TIMEOUT_S, MAX_WAIT_S } from './fields';
import { absoluteDir, containerOptionFields, user } from './fields-container-options';
import { pullPolicy, registryAuth } from './registry-fields';

/** A request's parameters and its reply. */
export interface CommandSchema<P extends Shape = Shape, R extends Shape = Shape> {
  readonly params: ObjectSchema<P>;
  readonly result: ObjectSchema<R>;
}

const command = <P extends Shape, R extends Shape>(params: P, result: R): CommandSchema<P, R> => ({ params: object(params), result: object(result) });
const none = {};

/** #16: one line of kept output (LogLine in types.ts). */
const logLine = object({ time: int(0), stream: oneOf(['stdout', 'stderr'] as const), text: string({ empty: true }) });

/** #20: a container of this user as user_containers lists it. `created`: ms since the epoch. */
const userContainerInfo = object({
  id: string(), tag: optional(string()), image: string(), node: string(), status: oneOf(['spawning', 'running', 'exited', 'destroyed'] as const),
  created: int(0), exitCode: optional(int(Number.MIN_SAFE_INTEGER)), session: string(), detached: boolean(), ports: array(int(0)),
});

const volumeInfo = object({ id: string(), tag: optional(string()), node: string() });

/** Requests: client → location, each answered by exactly one reply. */
export const commands = {
  /**
   * First request on a socket. `key` is the user's public key (identity.ts) and `proof` its
   * signature of the `challenge`; an open location also takes no key, and then `user` as a name.
   * The reply names the session; a `resource_offer` event follows.
   */
  open_session: command(
    { client: string(), user: optional(string()), key: optional(string()), proof: optional(bytes()) },
    // `dataConnections`: the location takes tunnel data connections (tunnel_link); older ones do not say.
    // `networkStack`: the kernel and network namespace the location runs in (lib/shared/network-stack.ts),
    // so a client on the same one may reach containers of nodes `onLocationStack` itself.
    { session: string(), user: string(), location: string(), dataConnections: optional(boolean()), networkStack: optional(string()) },
  ),
  /**
   * First request on a new socket after the old one dropped: take over `session` (proving it is
   * ours as open_session does) and replay every event after `lastSeq`. SessionExpired when the
   * location gave up on it. The reply says how many of the session's frames the location has
   * received: the client sends the rest again.
   */
  resume_session: command(
    { session: name(), lastSeq: int(0), user: optional(string()), key: optional(string()), proof: optional(bytes()) },
    { received: int(0) },
  ),
  /** End the session: replies once everything it made (but volumes) is gone. */
  close_session: command(none, none),
  /**
   * Create and start a container. Replies once the engine accepted it; status events follow.
   * `volumes`: [volume uuid, tag or uuid:tag, absolute mount point] pairs. `preBootFiles`:
   * [absolute path, contents] written into the file system before the first process runs.
   * `imageId`: the image's id (sha256:… of its config) when the client's own engine has it. The
   * location then runs exactly that image (from the node, or its cache) or answers ImageNotFound,
   * and the SDK uploads it (image_layers_missing, upload_layer, put_image_description) and retries.
   */
  spawn_container: command(
    {
      container: newId(),
      node: name(),
      image: string(),
      env: optional(envPairs()),
      command: optional(array(string({ empty: true }), { min: 1 })),
      sleep: optional(boolean()),
      tag: optional(tag()),
      stdin: optional(boolean()),
      volumes: optional(volumeMounts()),
      preBootFiles: optional(array(tuple(filePath(), contents()))),
      imageId: optional(digest()),
      // #16: container options (fields-container-options.ts); the location adds its policy and defaults.
      ...containerOptionFields(),
      // #19: an image neither the node nor the client's engine holds is pulled by the node.
      pull: optional(pullPolicy()),
      registryAuth: optional(registryAuth()),
    },
    none,
  ),
  /**
   * Which of an image's layers (uncompressed sha256 diff ids, at most MAX_IMAGE_LAYERS) the
   * location's cache lacks, and whether it lacks the image config `id` too.
   */
  image_layers_missing: command({ id: digest(), layers: layers() }, { missing: array(digest()), configMissing: boolean() }),
  /**
   * Send one layer (its `docker save` layer.tar) of exactly `size` bytes: after the reply, `file_data`
   * messages under `transfer` as for put_file, acknowledged by `file_ack`; `file_end` says it is in
   * the cache (its sha256 and size checked), or why it was rejected (LayerCorrupt). A cut upload is
   * discarded; sending it again starts from its first byte. Without `layer` (a client streaming a
   * layer whose digest it learns only at its end: `docker save` before Docker 25 names layers by
   * a v1 id) the location keeps it under the sha256 of what arrived.
   * #17: with `link`, a location that takes data connections answers `conn` and a single-use
   * `secret`: the layer's bytes may then come raw on a data connection of their own (as tunnel_link's,
   * docs/protocol.md), paced by file_ack as file_data is; `file_end` still says how it ended. A data
   * connection that breaks is replaced (upload_relink). Without an answer (or without dialing) `file_data` as above.
   */
  upload_layer: command(
    { transfer: newId(), layer: optional(digest()), size: int(0), link: optional(boolean()) },
    { conn: optional(int(1)), secret: optional(bytes()) },
  ),
  /**
   * Record `name` as this user's image `id` made of `layers` (every one already cached). `config`,
   * the image's raw config JSON, is needed when image_layers_missing said configMissing.
   */
  put_image_description: command(
    { name: string(), id: digest(), layers: layers(), config: optional(bytes(MAX_IMAGE_CONFIG_BYTES)) },
    none,
  ),
  /** Wake a container spawned with `sleep: true`. */
  start_container: command({ container: name() }, none),
  destroy_container: command({ container: name() }, none),
  create_tunnel: command({ tunnel: newId(), container: name(), port: port(), timeout: int(1, MAX_TUNNEL_TIMEOUT_S) }, none),
  destroy_tunnel: command({ tunnel: name() }, none),
  /** A persistent volume, kept until destroyed (never collected with a session). */
  create_volume: command({ tag: optional(tag()), asynchronous: optional(boolean()) }, { volume: volumeInfo }),
  /** `volume` is a uuid, a tag or uuid:tag. VolumeInUse while a container mounts it. */
  destroy_volume: command({ volume: name() }, none),
  /** Keep a copy of the volume as it is (one snapshot per volume). VolumeInUse while a running container mounts it. */
  snapshot_volume: command({ volume: name() }, none),
  /** Return the volume to its snapshot (or to empty). VolumeInUse while any container mounts it. */
  rollback_volume: command({ volume: name() }, none),
  /**
   * Run `command` through `sh -c` inside a running container. Replies once it started; its output
   * comes as `process_output` events and its end as one `process_exit`. `tty` gives it a pty;
   * with a pty and no command it is a login shell. `echo` keeps the pty's echo on (default off).
   * `cols` and `rows` (both or neither) size the pty before the command runs (a later
   * process_resize changes it).
   */
  spawn_process: command(
    {
      container: name(), process: newId(), command: optional(string()), tty: optional(boolean()), echo: optional(boolean()),
      cols: optional(int(1, MAX_PTY_SIZE)), rows: optional(int(1, MAX_PTY_SIZE)),
      // #16: user, uid, user:group or uid:gid; an absolute working directory; added environment.
      user: optional(user()), workdir: optional(absoluteDir()), env: optional(envPairs()),
    },
    none,
  ),
  /** Kill a process and every process it started; replies after its `process_exit` was sent. */
  destroy_process: command({ process: name() }, none),
  /**
   * Open a regular file for reading. The reply gives its size; then `file_data` events flow while
   * the client grants credit with `file_ack` (none is sent before the first grant), then `file_end`.
   */
  fetch_file: command({ container: name(), path: filePath(), transfer: newId() }, { size: int(0) }),
  /**
   * Open `path` for writing exactly `size` bytes (parents are created, an existing file replaced).
   * After the reply the client sends `file_data` messages, at most FILE_WINDOW_BYTES ahead of the
   * `file_ack` events; `file_end` says the file is complete (or why it failed).
   */
  put_file: command({ container: name(), path: filePath(), transfer: newId(), size: int(0) }, none),
  /**
   * Restart the container in place, keeping its id, tunnels and (unless `resetFilesystem`) its
   * files. Status goes to `spawning` and back to `running`; replies once it runs again.
   */
  reboot_container: command({ container: name(), resetFilesystem: optional(boolean()) }, none),
  /**
   * Let `from` open connections to `container` over their private addresses (closed by default).
   * One-way: replies flow back as established traffic, but `container` gains no way to open
   * connections to `from`. Each is a container of this session or an external container of the
   * same user; both must be running. Only enforced for engines on the location's machine.
   */
  allow_connection: command({ container: name(), from: name() }, none),
  /** Take an allow_connection back: `from` can open no new connections to `container`. */
  disallow_connection: command({ container: name(), from: name() }, none),
  /**
   * Route HTTP(S) requests for host name `fqdn` (ending in one of the offered endpoint domains)
   * through the front door to port 80 of the cluster's containers, balanced over the running ones.
   * `cluster` is a fresh id the client makes; `rewrite` replaces the Host header; `ssl` is
   * [certificate PEM, key PEM] for HTTPS (plain HTTP then redirects to it). DomainInUse when another
   * cluster holds the name. Unpublished when the session ends.
   */
  publish_web: command(
    {
      cluster: newId(), fqdn: string(), containers: array(name(), { min: 1 }), rewrite: optional(hostHeader()),
      ssl: optional(tuple(string(), string())),
    },
    none,
  ),
  /** Stop serving the cluster's host name; its containers keep running. */
  unpublish_web: command({ cluster: name() }, none),
  /** A container joins a published cluster: new requests may go to it. */
  add_to_cluster: command({ cluster: name(), container: name() }, none),
  /** A container leaves a published cluster: requests already sent to it finish; no new ones go. */
  remove_from_cluster: command({ cluster: name(), container: name() }, none),
  /** Replies once something accepts TCP connections on `port` of the container; ConnectFailed at `timeout` s. */
  wait_tcp: command({ container: name(), port: port(), timeout: int(1, MAX_WAIT_S) }, none),
  /** Replies once GET http://fqdn`path` on `port` of the container answers 200; ConnectFailed at `timeout` s. */
  wait_http_200: command({ container: name(), port: port(), fqdn: string(), path: urlPath(), timeout: int(1, MAX_WAIT_S) }, none),

  // #16: log history, waits, stats.
  /**
   * The container's kept output (bounded per container, see log-history.ts): the last `tail`
   * lines, only those from `since` (ms since the epoch) on. `dropped` counts lines the bound
   * evicted. The container may be an external one (a tagged container of another session of yours).
   */
  container_logs: command({ container: name(), tail: optional(int(0)), since: optional(int(0)) }, { lines: array(logLine), dropped: int(0) }),
  /**
   * Replay the kept output (as container_logs) and then follow it: `container_log` events under
   * `follow`, the first with the replay, until one with `end` (the main process ended, or the
   * container went). Nothing is missed or sent twice between replay and follow.
   */
  follow_logs: command({ container: name(), follow: newId(), tail: optional(int(0)), since: optional(int(0)) }, none),
  /** Stop a follow_logs early; an `end` event follows. */
  unfollow_logs: command({ follow: name() }, none),
  /** The engine's verdict on the container's health check (the image's HEALTHCHECK or the spawn option). */
  container_health: command({ container: name() }, { health: oneOf(['none', 'starting', 'healthy', 'unhealthy'] as const) }),
  /**
   * Replies once GET http://fqdn`path` on `port` answers `status` (and, with `body`, a body that
   * contains it); ConnectFailed at `timeout` s, naming the last answer.
   */
  wait_http: command(
    { container: name(), port: port(), fqdn: string(), path: urlPath(), status: int(100, 599), body: optional(string()), timeout: int(1, MAX_WAIT_S) },
    none,
  ),
  /**
   * Start sampling the container's resource use: `container_stats` events under `watch` (about
   * one a second) until unwatch_stats, or one with `end` when the main process ends.
   */
  watch_stats: command({ container: name(), watch: newId() }, none),
  /** Stop a watch_stats: the engine's stats stream is closed; an `end` event follows. */
  unwatch_stats: command({ watch: name() }, none),

  // #19: registry pulls.
  /**
   * Pull `image` onto `node` from its registry (`policy` as for spawn_container, default `missing`),
   * with `registryAuth` for that pull only. `image_pull` events under `pull` report progress. The
   * reply is the image id once it is on the node. An image the node got from a registry is used
   * for a user only after that registry accepts the user's credentials for it.
   */
  pull_image: command(
    { pull: newId(), node: name(), image: string(), policy: optional(pullPolicy()), registryAuth: optional(registryAuth()) },
    { id: string() },
  ),
  // #19: Dockerfile builds.
  /**
   * The images a Dockerfile starts or copies from (its FROMs and COPY --from= that are not its
   * own stages or scratch), with `buildArgs` applied: the SDK looks each up in its local engine.
   */
  build_bases: command({ dockerfile: bytes(MAX_DOCKERFILE_BYTES), buildArgs: optional(envPairs()) }, { images: array(string()) }),
  /**
   * Build `dockerfile` on `node` and record the image as this user's `tag`. Each base image is
   * resolved as a spawn's image is (`localImages`: [name, id] of those the client's engine has),
   * ImageNotFound before anything else when one is neither on the node nor in the user's cache.
   * After the reply the client sends the context, a tar archive of `size` bytes, as `file_data`
   * under `transfer` (acknowledged by `file_ack`, as upload_layer). The build's output comes as
   * `build_output` events and its end as one `build_end` under `build`. `registryAuth`: [base, credentials]
   * for bases the node may pull from their registry, for this build only (never kept).
   */
  build_image: command(
    {
      build: newId(), transfer: newId(), node: name(), size: int(0), dockerfile: bytes(MAX_DOCKERFILE_BYTES), tag: string(),
      buildArgs: optional(envPairs()), target: optional(string()), localImages: optional(array(tuple(string(), digest()))),
      registryAuth: optional(array(tuple(string(), registryAuth()))),
    },
    none,
  ),
  /** Stop a build_image: the engine ends it and its `build_end` carries BuildFailed. A build that ended already is no error. */
  cancel_build: command({ build: name() }, none),
  // #20: the command line's view across a user's sessions (tfnz run -d, ps, stop, rm).
  /**
   * Keep this session when its socket goes: no grace period, no replay, its containers keep
   * running (their output goes to their log history) until each is removed by
   * remove_user_container; the session ends with its last container. It still counts against the
   * user's session quota, and a new session never evicts it.
   */
  keep_session: command(none, none),
  /**
   * This user's containers in every one of the user's sessions (never another user's), with the
   * session holding each. `all` includes the ones whose main process ended (as `docker ps -a`).
   */
  user_containers: command({ all: optional(boolean()) }, { containers: array(userContainerInfo) }),
  /**
   * Stop the main process (at once, SIGKILL) of a container of this user in any session (its own,
   * a kept session's, or a tagged one; an untagged container of another live session stays that
   * session's): it stays, exited, until removed. `container`: a uuid, a unique uuid prefix, a tag or uuid:tag. Replies
   * with its uuid once it is stopped.
   */
  stop_user_container: command({ container: name() }, { container: string() }),
  /**
   * Destroy a container of this user in any session (`container` as for stop_user_container).
   * A running one only with `force`. Replies with its uuid once it is gone.
   */
  remove_user_container: command({ container: name(), force: optional(boolean()) }, { container: string() }),
  /**
   * A tunnel connection's bytes on a data connection of their own (docs/protocol.md): the first
   * call for `conn` opens the connection to the container (as tunnel_open does); each call hands
   * out a single-use `secret` for one upgrade of a TCP connection to the location's port (a broken
   * data connection is dialled again with a new one). Acks and ends ride this socket as tunnel_ack
   * (bytes received from the data connection) and tunnel_end (with the total sent).
   */
  tunnel_link: command({ tunnel: name(), conn: int(1) }, { secret: bytes() }),
  /**
   * #17: a new `conn` and single-use `secret` for upload_layer `transfer`'s data connection, after
   * the last one broke: the location's 101 answer says how many bytes it has (tfnz-received), and the
   * SDK sends again from there. QuotaExceeded at the location's socket limit.
   */
  upload_relink: command({ transfer: name() }, { conn: int(1), secret: bytes() }),
} satisfies Record<string, CommandSchema>;

/** Largest bulk chunk of a file transfer. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
/** Bytes of a file transfer that may be in flight (sent, not yet acknowledged) in either direction. */
export const FILE_WINDOW_BYTES = 8 * 1024 * 1024;

const conn = () => int(1);

/** One-way messages: client → location, no reply; failures come back as an `error` event. */
export const messages = {
  /** Every event up to `seq` arrived: the location may forget its replay copies. */
  ack: object({ seq: int(0) }),
  /** A local TCP connection was accepted: open one to the container's port. */
  tunnel_open: object({ tunnel: name(), conn: conn() }),
  /** Bytes for an open tunnel connection (bulk). */
  tunnel_data: object({ conn: conn() }),
  /** The receiver wrote `bytes` to its socket: the sender may send that much more. */
  tunnel_ack: object({ conn: conn(), bytes: int(1) }),
  /**
   * The sender will send no more (TCP half-close). On a data connection (tunnel_link) `bytes` is
   * how many it sent in all: the receiver ends its socket once that many arrived.
   */
  tunnel_end: object({ conn: conn(), bytes: optional(int(0)) }),
  /** Tear the connection down in both directions. */
  tunnel_close: object({ conn: conn() }),
  /** Bytes for a container's main process (bulk). */
  container_stdin: object({ container: name() }),
  /** Bytes for a spawned process's stdin (bulk). */
  process_stdin: object({ process: name() }),
  /** Close a spawned process's stdin (it reads end-of-file). */
  process_stdin_end: object({ process: name() }),
  /** The terminal of a tty process changed size. */
  process_resize: object({ process: name(), cols: int(1, MAX_PTY_SIZE), rows: int(1, MAX_PTY_SIZE) }),
  /** Bytes of a `put_file` or `upload_layer` transfer (bulk). */
  file_data: object({ transfer: name() }),
  /** The client took `bytes` of a `fetch_file` transfer: the location may send that much more. */
  file_ack: object({ transfer: name(), bytes: int(1) }),
  /** The client gave up on a transfer. */
  file_cancel: object({ transfer: name() }),
  /**
   * #17: the config of the image being uploaded (image_layers_missing's `id`), sent as soon as the
   * export gave it, before the last layers: a node that has every layer it lacked then loads the
   * image itself at once (untagged, usable only once put_image_description made the upload whole)
   * instead of waiting for the end. A hint: put_image_description still carries the config.
   */
  image_config: object({ id: digest(), config: bytes(MAX_IMAGE_CONFIG_BYTES) }),
} satisfies Record<string, ObjectSchema<Shape>>;

/** The name of a request a client may send. */
export type CommandName = keyof typeof commands;
export type MessageName = keyof typeof messages;

/** Each request as its sender writes it (`params`) and as the location replies (`result`). */
export type Commands = {
  [C in CommandName]: { params: Input<(typeof commands)[C]['params']>; result: Output<(typeof commands)[C]['result']> };
};
/** Each one-way message as its sender writes it. */
export type Messages = { [M in MessageName]: Input<(typeof messages)[M]> };

/** What request `C` takes. */
export type ParamsOf<C extends CommandName> = Commands[C]['params'];
/** What request `C` answers. */
export type ResultOf<C extends CommandName> = Commands[C]['result'];
/** A request's parameters once the location checked them (paths normalised, tags lower case, ...). */
export type ValidParamsOf<C extends CommandName> = Output<(typeof commands)[C]['params']>;
/** A one-way message's parameters once the location checked them. */
export type ValidMessageOf<M extends MessageName> = Output<(typeof messages)[M]>;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}

export function isMessageName(name: string): name is MessageName {
  return Object.hasOwn(messages, name);
}

/** Events: location → client, numbered per session. */
export interface Events {
  /** The location has received `count` frames of this session in all (the client may forget them). */
  received: { count: number };
  /** First frame on every socket: the nonce the client signs to prove who it is. */
  challenge: { nonce: Uint8Array };
  resource_offer: ResourceOffer;
  node_created: { node: NodeInfo };
  /** `reason`: why, in the location's words (its engine refused, or has not answered for a while). */
  node_destroyed: { node: string; reason?: string };
  node_stats: { node: string; stats: NodeStats };
  container_status: {
    container: string;
    status: ContainerStatus;
    sleeping?: boolean;
    privateIp?: string;
    exitCode?: number;
    error?: ErrorBody;
  };
  /** Bytes from a container's main process (bulk). */
  container_output: { container: string; stream: OutputStream };
  tunnel_data: { conn: number };
  tunnel_ack: { conn: number; bytes: number };
  tunnel_end: { conn: number; bytes?: number };
  tunnel_close: { conn: number; error?: ErrorBody };
  /** Bytes from a spawned process (bulk). */
  process_output: { process: string; stream: OutputStream };
  /** A spawned process ended; `exitCode` is absent when the engine could not say. Sent once. */
  process_exit: { process: string; exitCode?: number; error?: ErrorBody };
  /** Bytes of a `fetch_file` transfer (bulk). */
  file_data: { transfer: string };
  /** The location wrote `bytes` of a `put_file` or `upload_layer` transfer: the client may send that much more. */
  file_ack: { transfer: string; bytes: number };
  /** A transfer is complete (all data sent, or the put file is in place), or failed with `error`. */
  file_end: { transfer: string; error?: ErrorBody };
  /** A volume of this user appeared (made by any of the user's sessions). */
  volume_created: { volume: VolumeInfo };
  volume_destroyed: { volume: string };
  /** A tagged container of another session of this user started running: an external container. */
  external_created: { external: ExternalInfo };
  external_destroyed: { external: string };
  /** A one-way message failed; there was no request to reply to. */
  error: { error: ErrorBody; about?: string };
  // #16: log history and stats.
  /** Lines of a follow_logs; `end` says no more will come under this `follow`. */
  container_log: { follow: string; lines: LogLine[]; end?: boolean };
  /** A sample of a watch_stats; `end` (without a sample) says no more will come under this `watch`. */
  container_stats: { watch: string; stats?: ContainerStats; end?: boolean };
  // #19
  /** Progress of a pull: under the pull_image's `pull`, or the spawned container's id for a spawn's own pull. */
  image_pull: { pull: string; progress: PullProgress };
  // #19: Dockerfile builds.
  /** Output of a build_image; `step` ([step, of steps]) is set where a step starts. */
  build_output: { build: string; text: string; step?: [number, number] };
  /** A build_image ended: `image` is the built image's id, or `error` says why it failed (BuildFailed, …). Sent once. */
  build_end: { build: string; image?: string; error?: ErrorBody };
}

export type EventName = keyof Events;

/** An event as the client sees it once decoded. */
export type EventOf<E extends EventName = EventName> = {
  [K in E]: { event: K; seq: number; params: Events[K]; bulk?: Uint8Array };
}[E];

export type { ContainerInfo };

// Events are declared as types only: their names at run time (for fuzzing and tools) are a Record
// over EventName, so an event added above and not here, or here and not above, fails to compile.
const eventNames: Record<EventName, true> = {
  received: true, challenge: true, resource_offer: true, node_created: true, node_destroyed: true,
  node_stats: true, container_status: true, container_output: true, tunnel_data: true, tunnel_ack: true,
  tunnel_end: true, tunnel_close: true, process_output: true, process_exit: true, file_data: true,
  file_ack: true, file_end: true, volume_created: true, volume_destroyed: true, external_created: true,
  external_destroyed: true, error: true,
  container_log: true, container_stats: true, // #16
  image_pull: true, // #19
  build_output: true, build_end: true, // #19
};
export const COMMAND_NAMES = Object.keys(commands) as CommandName[];
export const MESSAGE_NAMES = Object.keys(messages) as MessageName[];
export const EVENT_NAMES = Object.keys(eventNames) as EventName[];
