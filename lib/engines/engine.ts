/**
 * What the location needs from a container engine. One adapter per engine kind implements it;
 * Docker (docker-engine.ts) is the first. Everything the location creates carries `labels`, so the
 * engine itself stays the source of truth about what exists.
 */
import type { Socket } from 'node:net';
import type { ContainerStats, HealthStatus, NodeStats, OutputStream, RegistryAuth } from '../protocol';
import type { PullReport } from './registry-pull';
import type { HostAgent } from './docker-host-agent';

/** What the location asks an engine to create. */
export interface ContainerSpec {
  /** Engine-side name, unique per engine. */
  name: string;
  image: string;
  env: [string, string][];
  /** Replaces the image's entrypoint and command when given. */
  command?: string[];
  /** Boot with a placeholder main process; `wake()` runs the real one. */
  sleep: boolean;
  /** Keep the main process's stdin open for `writeStdin`. */
  stdin: boolean;
  labels: Record<string, string>;
  /** Persistent volumes to mount. */
  mounts?: Mount[];
  /** #16: options beyond the basics (container-options.ts checks them). */
  options?: ContainerOptions;
  /** Caps on what the container may use; without them, the engine's defaults (none). */
  resources?: ContainerResources;
  /** #15: name servers the container uses instead of its host's. */
  dns?: string[];
  /** What the engine itself keeps of the container's output (its log driver); default the engine's own. */
  engineLog?: EngineLog;
}

/**
 * A log driver and its options, as Docker names them: what the engine keeps of a container's output
 * beside what the location streams and keeps itself (log-history.ts).
 */
export interface EngineLog {
  driver: string;
  options?: Record<string, string>;
}

/** #16: what a container may be given beyond image, env and command. */
export interface ContainerOptions {
  /** Replaces the image's entrypoint; `command` is then its arguments (none when absent). */
  entrypoint?: string[];
  /** user, uid, user:group or uid:gid the main process runs as. */
  user?: string;
  /** The main process's working directory (absolute). */
  workdir?: string;
  /** The user's own labels, beside tfnz's (which they cannot override). */
  labels?: Record<string, string>;
  memoryMb?: number;
  cpus?: number;
  /** Capability names without CAP_, or ALL. */
  capAdd?: string[];
  capDrop?: string[];
  /** Mount point → mount options ('' for the defaults). */
  tmpfs?: Record<string, string>;
  shmSizeMb?: number;
  /** `command` as Docker takes it: ['CMD-SHELL', line] or ['CMD', ...argv]. */
  healthcheck?: { command: string[]; intervalMs: number; timeoutMs: number; retries: number; startPeriodMs: number };
  privileged?: boolean;
}

/** What the location lets one container use: processes, memory, CPUs, capabilities dropped. */
export interface ContainerResources {
  /** Processes and threads. */
  pids: number;
  /** Memory, bytes; swap may add as much again. */
  memoryBytes: number;
  cpus: number;
  /** Linux capabilities taken away, e.g. NET_RAW. */
  dropCapabilities: string[];
}

/** A volume the engine holds, with its labels. */
export interface LabelledVolume {
  name: string;
  labels: Record<string, string>;
}

/** A persistent volume mounted into a container. */
export interface Mount {
  /** Engine-side volume name. */
  volume: string;
  /** Absolute path inside the container. */
  target: string;
}

/** A container the engine holds, with its labels. */
export interface LabelledContainer {
  engineId: string;
  labels: Record<string, string>;
  running: boolean;
}

/** A live attachment to a container's main process. */
export interface Attachment {
  /** Stop delivering output until `resume()`; the engine's buffers fill, then the process blocks. */
  pause(): void;
  /** Deliver output again after `pause()`. */
  resume(): void;
  /** Write to the main process's stdin (only when spawned with `stdin`). */
  write(data: Uint8Array): void;
  /** Resolves when the output stream has ended (all output was delivered). */
  ended: Promise<void>;
}

/** What to run inside a running container (`Engine.exec`). */
export interface ExecSpec {
  /** argv of the process; the location wraps user commands in `sh -c`. */
  command: string[];
  /** A pty (shells): output is one raw stream, stdin is the terminal. */
  tty: boolean;
  env?: [string, string][];
  /** #16 */
  user?: string;
  workdir?: string;
}

/** A process started inside a container. */
export interface ExecHandle {
  /** Stop delivering output until `resume()`. */
  pause(): void;
  /** Deliver output again after `pause()`. */
  resume(): void;
  /** Write to the process's stdin. */
  write(data: Uint8Array): void;
  /** Close its stdin: it reads end-of-file. */
  endStdin(): void;
  /** Resize the process's pty. */
  resize(cols: number, rows: number): Promise<void>;
  /** Kill it and every process it started (they share a marker the engine put in their environment). */
  kill(): Promise<void>;
  /** Resolves once its output ended, with its exit code (undefined when the engine cannot say). */
  exited: Promise<number | undefined>;
}

/** A regular file being read out of a container. */
export interface FileSource {
  size: number;
  /** The bytes, in order; back-pressure by not pulling. */
  chunks: AsyncIterable<Uint8Array>;
  /** Stop reading early and release the engine's stream. */
  cancel(): void;
}

/** A file being written into a container, `size` bytes exactly. */
export interface FileSink {
  /** Resolves when the engine took the chunk (so the sender may be given that much more credit). */
  write(chunk: Uint8Array): Promise<void>;
  /** Resolves once the file is in place; rejects if the engine refused it. */
  finish(): Promise<void>;
  /** Give up: what was written goes. May resolve once it is gone (callers need not wait). */
  abort(): void | Promise<void>;
}

/** A Dockerfile build on an engine (`Engine.build`). */
export interface BuildSpec {
  /** The Dockerfile's path inside the context archive. */
  dockerfile: string;
  buildArgs?: Record<string, string>;
  /** The stage to stop at (multi-stage builds). */
  target?: string;
  /** Stop the build: the engine ends it (BuildFailed then says it was cancelled). */
  signal?: AbortSignal;
}

/** What a build says as it goes: its output text, and the step it reached. */
export interface BuildOutput {
  text: string;
  /** Set on the line that starts a step: [step, of steps]. */
  step?: [number, number];
}

/** An engine's name and size. */
export interface EngineDescription {
  name: string;
  cores: number;
  memoryMiB: number;
  /** The node's labels from its cluster manager (swarm node labels), shown on `Node.labels`. */
  labels?: Record<string, string>;
}

/** An image an engine holds under a name of its own (Engine.taggedImage). */
export interface TaggedImage {
  /** sha256:… of the image config. */
  id: string;
  /** Where it was pulled from or pushed to (`repo@sha256:…`); empty for images built or loaded there. */
  repoDigests: string[];
}

/**
 * What the location needs from a container engine (one node); `DockerEngine` implements it.
 * Give engines to `LocationServer.start({ engines })` or `server.nodes.add`.
 */
export interface Engine {
  /** Where the engine listens, e.g. unix:///var/run/docker.sock. */
  readonly address: string;
  /** Name, cores and memory of the engine. */
  describe(): Promise<EngineDescription>;
  /** Spare capacity now. */
  sampleStats(): Promise<NodeStats>;
  /**
   * Optional liveness watch: call `onGone` once when the engine goes away (its event stream ends),
   * `onActivity` when containers start or die. Returns a function that stops watching.
   */
  watch?(onGone: (reason: Error) => void, onActivity?: () => void): () => void;
  /** The id (sha256:…) of image `ref` (a name or an id) on this engine; undefined when it has none. */
  imageId(ref: string): Promise<string | undefined>;
  /**
   * The id of image `ref` when the engine holds it under a name of its own (it has a repo tag: the
   * operator built or loaded it); undefined for untagged images (those the location loads from its
   * cache for one user) and for images it lacks.
   */
  taggedImageId(ref: string): Promise<string | undefined>;
  /** The layer stack (diff ids, bottom first) of every image on this engine. */
  imageLayerStacks(): Promise<string[][]>;
  /** Load images from a `docker save` archive; rejects if the engine refused it. */
  loadImage(archive: NodeJS.ReadableStream): Promise<void>;
  /**
   * Remove image `id` (its layers stay while another image holds them); resolves when it is gone
   * or was not there. Optional: without it the location never loads a placeholder image (image-preload.ts).
   */
  removeImage?(id: string): Promise<void>;
  /** Create a container (not started); returns the engine's id. Missing image → ImageNotFound. */
  create(spec: ContainerSpec): Promise<string>;
  /** Attach to the main process before start, so no output is lost. */
  attach(engineId: string, withStdin: boolean, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<Attachment>;
  /** Start a created container. */
  start(engineId: string): Promise<void>;
  /**
   * Optional: start a created container, learning its private address while the engine starts it;
   * `whileStarting(ip)` runs as soon as it is known, and this resolves once both the start and it
   * are done, with the address (undefined: not learned early, `whileStarting` not called; ask
   * `privateIp`). A failed start rejects only after `whileStarting` has settled.
   */
  startWithAddress?(engineId: string, whileStarting: (ip: string) => Promise<void>): Promise<string | undefined>;
  /** Run the real main process of a container created with `sleep`. */
  wake(engineId: string): Promise<void>;
  /** Resolves with the main process's exit code once it has ended. */
  wait(engineId: string): Promise<number>;
  /** The address other hosts on this engine's network (and the location) reach it at. */
  privateIp(engineId: string): Promise<string | undefined>;
  /**
   * The network containers join on this engine: its IPv4 subnet (CIDR) and gateway, the address
   * they reach the engine's host at (where the location serves names and its front door to
   * containers on its own machine); undefined when it has none.
   */
  containerNetwork?(): Promise<{ subnet: string; gateway: string } | undefined>;
  /**
   * Open a TCP connection from the location to `port` at `ip`, a container's private address on
   * this engine; resolves once something there accepted it. Without it the location connects
   * directly (one host, or hosts with routes). Engines whose containers the location cannot route
   * to (an overlay network, a Kubernetes pod network) dial through a relay or a port-forward.
   */
  dial?(ip: string, port: number): Promise<Socket>;
  /**
   * Connection grants held by the engine itself (an overlay the location's own packet filter does
   * not see): close the container at `ip` to new connections from other containers, except from
   * `allowedFrom`, replacing what was held for it before. Without it, grants are the location's
   * own packet filter's (local-firewall.ts), for engines on its machine only.
   */
  holdConnections?(ip: string, allowedFrom: string[]): Promise<void>;
  /** Kill and remove; a container already gone is not an error. */
  remove(engineId: string): Promise<void>;
  /** Start a process inside a running container; output flows to `onOutput` until `exited`. */
  exec(engineId: string, spec: ExecSpec, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<ExecHandle>;
  /** Stop the main process at once (SIGKILL); the container and its file system stay. */
  kill(engineId: string): Promise<void>;
  /** Open a regular file for reading; FileNotFound when there is none at `path`. Works on stopped containers. */
  readFile(engineId: string, path: string): Promise<FileSource>;
  /** Create or replace the file at absolute `path` (parents are created). Works before the first start. */
  writeFile(engineId: string, path: string, size: number): Promise<FileSink>;
  /** Every container (running or not) carrying all the given labels. */
  list(labels: Record<string, string>): Promise<LabelledContainer[]>;
  /** Create a named volume with labels. */
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Remove a volume (gone already is fine); false while a container still mounts it. */
  removeVolume(name: string): Promise<boolean>;
  /** Every volume carrying all the given labels. */
  listVolumes(labels: Record<string, string>): Promise<LabelledVolume[]>;
  /** Engine names of the containers mounting the volume (only running ones if asked). */
  volumeUsers(name: string, runningOnly: boolean): Promise<string[]>;
  /** Replace `to`'s content with `from`'s; neither may be in use. */
  copyVolume(from: string, to: string, labels: Record<string, string>): Promise<void>;
  // #16
  /**
   * Build the Dockerfile in the context archive (a tar stream); output flows to `onOutput`.
   * Resolves with the built image's id (untagged: the location records the name per user);
   * BuildFailed when the build fails. Only images on this engine serve as bases (no pulls).
   */
  build?(context: NodeJS.ReadableStream, spec: BuildSpec, onOutput: (out: BuildOutput) => void): Promise<string>;
  /** `docker save` of one image, by id. */
  saveImage?(id: string): Promise<NodeJS.ReadableStream>;
  /** What the container's health check says now; 'none' without one. */
  health?(engineId: string): Promise<HealthStatus>;
  /** Stream the container's resource use to `onSample` until the returned function is called. */
  streamStats?(engineId: string, onSample: (stats: ContainerStats) => void, onEnd: () => void): Promise<() => void>;
  // #19
  /** Pull `ref` (normalised, of `registry`) with these credentials for this pull only; resolves with the image id. */
  pullImage?(ref: string, registry: string, auth: RegistryAuth | undefined, onProgress: (p: PullReport) => void): Promise<string>;
  /** Resolves when `registry` lets these credentials read `ref`; the typed registry error when not. */
  checkRegistryAccess?(ref: string, registry: string, auth: RegistryAuth | undefined): Promise<void>;
  /** The repository digests (`repo@sha256:…`) of the image held under `ref`: where it was pulled from or pushed to. */
  imageRepoDigests?(ref: string): Promise<string[]>;
  /**
   * taggedImageId and imageRepoDigests in one look (a spawn resolves its image with one engine
   * call, not two): the image held under a name of the engine's own, or undefined.
   */
  taggedImage?(ref: string): Promise<TaggedImage | undefined>;
  // #15
  /** Commands on the engine's own host (its packet filter), through a helper container of `location`'s. */
  hostAgent?(location: string): HostAgent;
}

/**
 * Nothing listens at the engine's address (connection refused, no socket file): its dockerd is
 * down, which the node pool treats as a departure at once. Any other failure (a timeout, no route
 * to the host) may be a network blip and gets a grace period (node-pool.ts).
 */
export function markEngineDown<E extends Error>(err: E): E {
  return Object.assign(err, { engineDown: true });
}

/** Whether an engine call failed because its dockerd is down (see markEngineDown). */
export function isEngineDown(err: unknown): boolean {
  return (err as { engineDown?: boolean } | undefined)?.engineDown === true;
}
