/**
 * The one contract: every request, one-way message and event, declared once with its parameter
 * and reply types. Client and server both import it, so a renamed field fails to compile.
 */
import type { ContainerInfo, ContainerStatus, NodeInfo, NodeStats, OutputStream, ResourceOffer, VolumeInfo, ExternalInfo } from './types';
import type { ContainerStats, HealthStatus, LogLine } from './types';
import type { ErrorBody } from './errors';

/** Requests: client → location, each answered by exactly one reply. */
export interface Commands {
  /**
   * First request on a socket. `key` is the user's public key (identity.ts) and `proof` its
   * signature of the `challenge`; an open location also takes no key, and then `user` as a name.
   * The reply names the session; a `resource_offer` event follows.
   */
  open_session: {
    params: { client: string; user?: string; key?: string; proof?: Uint8Array };
    result: { session: string; user: string; location: string };
  };
  /**
   * First request on a new socket after the old one dropped: take over `session` (proving it is
   * ours as open_session does) and replay every event after `lastSeq`. SessionExpired when the
   * location gave up on it.
   */
  resume_session: {
    params: { session: string; lastSeq: number; user?: string; key?: string; proof?: Uint8Array };
    /** How many of the session's frames the location has received: the client sends the rest again. */
    result: { received: number };
  };
  /** End the session: replies once everything it made (but volumes) is gone. */
  close_session: { params: Record<string, never>; result: Record<string, never> };
  /** Create and start a container. Replies once the engine accepted it; status events follow. */
  spawn_container: {
    params: {
      container: string;
      node: string;
      image: string;
      env?: [string, string][];
      command?: string[];
      sleep?: boolean;
      tag?: string;
      stdin?: boolean;
      /** [volume uuid, tag or uuid:tag, absolute mount point] pairs. */
      volumes?: [string, string][];
      /** [absolute path, contents] written into the file system before the first process runs. */
      preBootFiles?: [string, Uint8Array][];
      /**
       * The image's id (sha256:… of its config) when the client's own engine has it. The location
       * then runs exactly that image (from the node, or its cache) or answers ImageNotFound, and
       * the SDK uploads it (image_layers_missing, upload_layer, put_image_description) and retries.
       */
      imageId?: string;
      // #16: container options (checked by lib/server/container-options.ts).
      entrypoint?: string[];
      user?: string;
      workdir?: string;
      labels?: Record<string, string>;
      resources?: { memoryMb?: number; cpus?: number };
      capAdd?: string[];
      capDrop?: string[];
      /** Mount point → mount options ('' for the defaults). */
      tmpfs?: Record<string, string>;
      shmSizeMb?: number;
      /** A string runs through the shell; a list is argv. Defaults: 1 s interval, 5 s timeout, 3 retries. */
      healthcheck?: { command: string | string[]; intervalMs?: number; timeoutMs?: number; retries?: number; startPeriodMs?: number };
      privileged?: boolean;
    };
    result: Record<string, never>;
  };
  /**
   * Which of an image's layers (uncompressed sha256 diff ids, at most MAX_IMAGE_LAYERS) the
   * location's cache lacks, and whether it lacks the image config `id` too.
   */
  image_layers_missing: {
    params: { id: string; layers: string[] };
    result: { missing: string[]; configMissing: boolean };
  };
  /**
   * Send one layer (its `docker save` layer.tar) of exactly `size` bytes: after the reply, `file_data`
   * messages under `transfer` as for put_file, acknowledged by `file_ack`; `file_end` says it is in
   * the cache (its sha256 and size checked), or why it was rejected (LayerCorrupt). A cut upload is
   * discarded; sending it again starts from its first byte.
   */
  upload_layer: { params: { transfer: string; layer: string; size: number }; result: Record<string, never> };
  /**
   * Record `name` as this user's image `id` made of `layers` (every one already cached). `config`,
   * the image's raw config JSON, is needed when image_layers_missing said configMissing.
   */
  put_image_description: {
    params: { name: string; id: string; layers: string[]; config?: Uint8Array };
    result: Record<string, never>;
  };
  /** Wake a container spawned with `sleep: true`. */
  start_container: { params: { container: string }; result: Record<string, never> };
  destroy_container: { params: { container: string }; result: Record<string, never> };
  create_tunnel: {
    params: { tunnel: string; container: string; port: number; timeout: number };
    result: Record<string, never>;
  };
  destroy_tunnel: { params: { tunnel: string }; result: Record<string, never> };
  /** A persistent volume, kept until destroyed (never collected with a session). */
  create_volume: { params: { tag?: string; asynchronous?: boolean }; result: { volume: VolumeInfo } };
  /** `volume` is a uuid, a tag or uuid:tag. VolumeInUse while a container mounts it. */
  destroy_volume: { params: { volume: string }; result: Record<string, never> };
  /** Keep a copy of the volume as it is (one snapshot per volume). VolumeInUse while a running container mounts it. */
  snapshot_volume: { params: { volume: string }; result: Record<string, never> };
  /** Return the volume to its snapshot (or to empty). VolumeInUse while any container mounts it. */
  rollback_volume: { params: { volume: string }; result: Record<string, never> };
  /**
   * Run `command` through `sh -c` inside a running container. Replies once it started; its output
   * comes as `process_output` events and its end as one `process_exit`. `tty` gives it a pty;
   * with a pty and no command it is a login shell. `echo` keeps the pty's echo on (default off).
   * `cols` and `rows` size the pty before the command runs (a later process_resize changes it).
   */
  spawn_process: {
    params: {
      container: string; process: string; command?: string; tty?: boolean; echo?: boolean; cols?: number; rows?: number;
      // #16
      user?: string; workdir?: string; env?: [string, string][];
    };
    result: Record<string, never>;
  };
  /** Kill a process and every process it started; replies after its `process_exit` was sent. */
  destroy_process: { params: { process: string }; result: Record<string, never> };
  /**
   * Open a regular file for reading. The reply gives its size; then `file_data` events flow while
   * the client grants credit with `file_ack` (none is sent before the first grant), then `file_end`.
   */
  fetch_file: { params: { container: string; path: string; transfer: string }; result: { size: number } };
  /**
   * Open `path` for writing exactly `size` bytes (parents are created, an existing file replaced).
   * After the reply the client sends `file_data` messages, at most FILE_WINDOW_BYTES ahead of the
   * `file_ack` events; `file_end` says the file is complete (or why it failed).
   */
  put_file: { params: { container: string; path: string; transfer: string; size: number }; result: Record<string, never> };
  /**
   * Restart the container in place, keeping its id, tunnels and (unless `resetFilesystem`) its
   * files. Status goes to `spawning` and back to `running`; replies once it runs again.
   */
  reboot_container: { params: { container: string; resetFilesystem?: boolean }; result: Record<string, never> };
  /**
   * Let `from` open connections to `container` over their private addresses (closed by default).
   * One-way: replies flow back as established traffic, but `container` gains no way to open
   * connections to `from`. Each is a container of this session or an external container of the
   * same user; both must be running. Only enforced for engines on the location's machine.
   */
  allow_connection: { params: { container: string; from: string }; result: Record<string, never> };
  /** Take an allow_connection back: `from` can open no new connections to `container`. */
  disallow_connection: { params: { container: string; from: string }; result: Record<string, never> };
  /**
   * Route HTTP(S) requests for host name `fqdn` (ending in one of the offered endpoint domains)
   * through the front door to port 80 of the cluster's containers, balanced over the running ones.
   * `cluster` is a fresh id the client makes; `rewrite` replaces the Host header; `ssl` is
   * [certificate PEM, key PEM] for HTTPS (plain HTTP then redirects to it). DomainInUse when another
   * cluster holds the name. Unpublished when the session ends.
   */
  publish_web: {
    params: { cluster: string; fqdn: string; containers: string[]; rewrite?: string; ssl?: [string, string] };
    result: Record<string, never>;
  };
  /** Stop serving the cluster's host name; its containers keep running. */
  unpublish_web: { params: { cluster: string }; result: Record<string, never> };
  /** A container joins a published cluster: new requests may go to it. */
  add_to_cluster: { params: { cluster: string; container: string }; result: Record<string, never> };
  /** A container leaves a published cluster: requests already sent to it finish; no new ones go. */
  remove_from_cluster: { params: { cluster: string; container: string }; result: Record<string, never> };
  /** Replies once something accepts TCP connections on `port` of the container; ConnectFailed at `timeout` s. */
  wait_tcp: { params: { container: string; port: number; timeout: number }; result: Record<string, never> };
  /** Replies once GET http://fqdn`path` on `port` of the container answers 200; ConnectFailed at `timeout` s. */
  wait_http_200: {
    params: { container: string; port: number; fqdn: string; path: string; timeout: number };
    result: Record<string, never>;
  };
  // #16: log history, waits.
  /**
   * The container's kept output (bounded per container, see log-history.ts): the last `tail`
   * lines, only those from `since` (ms since the epoch) on. `dropped` counts lines the bound evicted.
   */
  container_logs: {
    params: { container: string; tail?: number; since?: number };
    result: { lines: LogLine[]; dropped: number };
  };
  /**
   * Replay the kept output (as container_logs) and then follow it: `container_log` events under
   * `follow`, the first with the replay, until one with `end` (the main process ended, or the
   * container went). Nothing is missed or sent twice between replay and follow.
   */
  follow_logs: { params: { container: string; follow: string; tail?: number; since?: number }; result: Record<string, never> };
  /** Stop a follow_logs early; an `end` event follows. */
  unfollow_logs: { params: { follow: string }; result: Record<string, never> };
  /** The engine's verdict on the container's health check (the image's HEALTHCHECK or the spawn option). */
  container_health: { params: { container: string }; result: { health: HealthStatus } };
  /**
   * Replies once GET http://fqdn`path` on `port` answers `status` (and, with `body`, a body that
   * contains it); ConnectFailed at `timeout` s, naming the last answer.
   */
  wait_http: {
    params: { container: string; port: number; fqdn: string; path: string; status: number; body?: string; timeout: number };
    result: Record<string, never>;
  };
  // #16: stats.
  /**
   * Start sampling the container's resource use: `container_stats` events under `watch` (about
   * one a second) until unwatch_stats, or one with `end` when the main process ends.
   */
  watch_stats: { params: { container: string; watch: string }; result: Record<string, never> };
  /** Stop a watch_stats: the engine's stats stream is closed; an `end` event follows. */
  unwatch_stats: { params: { watch: string }; result: Record<string, never> };
}

/** Largest bulk chunk of a file transfer. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
/** Bytes of a file transfer that may be in flight (sent, not yet acknowledged) in either direction. */
export const FILE_WINDOW_BYTES = 8 * 1024 * 1024;
/** Most layers one image may have (Docker's own limit is 127 on overlay2). */
export const MAX_IMAGE_LAYERS = 256;

/** One-way messages: client → location, no reply; failures come back as an `error` event. */
export interface Messages {
  /** Every event up to `seq` arrived: the location may forget its replay copies. */
  ack: { seq: number };
  /** A local TCP connection was accepted: open one to the container's port. */
  tunnel_open: { tunnel: string; conn: number };
  /** Bytes for an open tunnel connection (bulk). */
  tunnel_data: { conn: number };
  /** The receiver wrote `bytes` to its socket: the sender may send that much more. */
  tunnel_ack: { conn: number; bytes: number };
  /** The sender will send no more (TCP half-close). */
  tunnel_end: { conn: number };
  /** Tear the connection down in both directions. */
  tunnel_close: { conn: number };
  /** Bytes for a container's main process (bulk). */
  container_stdin: { container: string };
  /** Bytes for a spawned process's stdin (bulk). */
  process_stdin: { process: string };
  /** Close a spawned process's stdin (it reads end-of-file). */
  process_stdin_end: { process: string };
  /** The terminal of a tty process changed size. */
  process_resize: { process: string; cols: number; rows: number };
  /** Bytes of a `put_file` or `upload_layer` transfer (bulk). */
  file_data: { transfer: string };
  /** The client took `bytes` of a `fetch_file` transfer: the location may send that much more. */
  file_ack: { transfer: string; bytes: number };
  /** The client gave up on a transfer. */
  file_cancel: { transfer: string };
}

/** Events: location → client, numbered per session. */
export interface Events {
  /** The location has received `count` frames of this session in all (the client may forget them). */
  received: { count: number };
  /** First frame on every socket: the nonce the client signs to prove who it is. */
  challenge: { nonce: Uint8Array };
  resource_offer: ResourceOffer;
  node_created: { node: NodeInfo };
  node_destroyed: { node: string };
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
  tunnel_end: { conn: number };
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
  // #16: log history.
  /** Lines of a follow_logs; `end` says no more will come under this `follow`. */
  container_log: { follow: string; lines: LogLine[]; end?: boolean };
  /** A sample of a watch_stats; `end` (without a sample) says no more will come under this `watch`. */
  container_stats: { watch: string; stats?: ContainerStats; end?: boolean };
}

export type CommandName = keyof Commands;
export type MessageName = keyof Messages;
export type EventName = keyof Events;
export type ParamsOf<C extends CommandName> = Commands[C]['params'];
export type ResultOf<C extends CommandName> = Commands[C]['result'];

/** An event as the client sees it once decoded. */
export type EventOf<E extends EventName = EventName> = {
  [K in E]: { event: K; seq: number; params: Events[K]; bulk?: Uint8Array };
}[E];

export type { ContainerInfo };
