/** Data shapes that both ends exchange. Plain, serialisable, immutable by convention. */
import type { ErrorBody } from './errors';

/**
 * A node's spare capacity, refreshed by the location every few seconds.
 * cpu: idle CPU in hundredths of a core (two idle cores = 200);
 * memory: available memory in MiB; paging: swap pages in + out per second;
 * containers: containers running on the node, for every session.
 */
export interface NodeStats {
  cpu: number;
  memory: number;
  paging: number;
  containers: number;
}

/** A node as the location reports it. */
export interface NodeInfo {
  id: string;
  /** Human-readable name: the engine's host name or the name given on the command line. */
  name: string;
  stats: NodeStats;
  /** False once the node went away: it stays in state with no spare capacity. */
  alive: boolean;
  /** Labels the cluster manager gives the node (swarm node labels), for placement; absent when none. */
  labels?: Record<string, string>;
  /**
   * True when the node's containers live on the location's own network stack (an engine on a
   * unix socket or the loopback, that the location reaches without a relay): a client whose
   * network stack is the location's (open_session's `networkStack`) reaches them as the location does.
   */
  onLocationStack?: boolean;
}

/** Where a container is in its life. */
export type ContainerStatus = 'spawning' | 'running' | 'exited' | 'destroyed';

/** A container as the location reports it. */
export interface ContainerInfo {
  id: string;
  node: string;
  image: string;
  tag?: string;
  status: ContainerStatus;
  /** True while a container spawned with `sleep` waits for `start()`. */
  sleeping?: boolean;
  privateIp?: string;
  /** Exit code of the main process, once it ended. */
  exitCode?: number;
  /** Why the container could not start or was lost. */
  error?: ErrorBody;
}

/** A tunnel of this session. */
export interface TunnelInfo {
  id: string;
  container: string;
  port: number;
  localPort?: number;
}

/** A volume as the location reports it. */
export interface VolumeInfo {
  id: string;
  tag?: string;
  /** The node whose engine holds it: containers that mount it run there. */
  node: string;
}

/** A container of another session that answers to a tag. */
export interface ExternalInfo {
  id: string;
  tag: string;
  node: string;
  privateIp?: string;
}

/**
 * A domain the location's front door serves: clusters are published at host names ending in it.
 * The ports are where the front door listens (HTTP, and HTTPS for clusters published with ssl).
 */
export interface EndpointInfo {
  domain: string;
  httpPort: number;
  httpsPort: number;
}

/** Everything a session may use, sent when it opens (and again when it resumes). */
export interface ResourceOffer {
  session: string;
  user: string;
  location: string;
  nodes: NodeInfo[];
  containers: ContainerInfo[];
  volumes: VolumeInfo[];
  externals: ExternalInfo[];
  endpoints: EndpointInfo[];
}

/** Which output of a process a chunk came from. */
export type OutputStream = 'stdout' | 'stderr';

// #16: log history, health and stats.
/** One line of a container's output as the location keeps it (log-history.ts). */
export interface LogLine {
  /** When its first byte arrived, in ms since the epoch (the location's clock). */
  time: number;
  stream: OutputStream;
  /** The line without its line end, decoded as UTF-8. */
  text: string;
}

/** What the engine says of a container's health check; 'none' when it has none. */
export type HealthStatus = 'none' | 'starting' | 'healthy' | 'unhealthy';

/** One sample of a container's resource use, from its engine's stats stream (about once a second). */
export interface ContainerStats {
  /** When the location received it, ms since the epoch. */
  time: number;
  /** CPU used since the previous sample; 100 is one whole core. */
  cpuPercent: number;
  /** Memory in use, page cache excluded. */
  memoryBytes: number;
  /** The container's memory limit (the engine's memory when it has none). */
  memoryLimitBytes: number;
  /** Network bytes received and sent, since it started. */
  networkRxBytes: number;
  networkTxBytes: number;
  /** Block device bytes read and written, since it started. */
  blockReadBytes: number;
  blockWriteBytes: number;
}

// #19: registry pulls.
/** When the node pulls an image from its registry (Docker's `--pull`): `missing` is the default. */
export type PullPolicy = 'always' | 'missing' | 'never';

/** Credentials for one image registry, sent with a spawn or pull that needs them and never kept. */
export interface RegistryAuth {
  username: string;
  password: string;
}

/** One layer of a pull as the node's engine reports it. */
export interface PullLayerProgress {
  /** The engine's short layer id (12 hex digits). */
  id: string;
  /** The engine's word for it: Waiting, Downloading, Extracting, Pull complete, Already exists, … */
  status: string;
  bytesDone: number;
  /** 0 until the engine knows the layer's size. */
  bytesTotal: number;
  /** Pulled and extracted, or already on the node. */
  done: boolean;
}

/** A pull on a node: per layer and in total. Bytes are compressed bytes downloaded. */
export interface PullProgress {
  /** The reference as pulled, normalised (docker.io/library/busybox:latest). */
  image: string;
  node: string;
  phase: 'pulling' | 'done';
  layers: PullLayerProgress[];
  bytesDone: number;
  bytesTotal: number;
  layersDone: number;
  layersTotal: number;
}
