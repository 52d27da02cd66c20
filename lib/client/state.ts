/**
 * The immutable picture of a location that a session folds from the location's events and from
 * what the SDK itself does (local actions). Every collection the SDK hands out (a node's
 * containers, a container's tunnels, processes and SSH servers, volumes...) is read from here.
 */
import type {
  ContainerInfo, EndpointInfo, ErrorBody, EventOf, ExternalInfo, NodeInfo, TunnelInfo, VolumeInfo,
} from '../protocol';
import { IdMap } from './table';
import { recordOf } from './id-record';

/** A process this session started in one of its containers, while it runs. */
export interface ProcessInfo {
  readonly id: string;
  readonly container: string;
  /** The command line run through `sh -c`; absent for a login shell. */
  readonly command?: string;
  readonly tty: boolean;
}

/** A local SSH server into one of this session's containers, while it listens. */
export interface SshServerInfo {
  readonly id: string;
  readonly container: string;
  /** The local address and port it listens on. */
  readonly bind: string;
  readonly port: number;
}

/** Everything the session knows about the location, folded from its events: `Location.state$`. */
export interface LocationState {
  readonly session?: string;
  readonly user?: string;
  readonly location?: string;
  /**
   * The location's nodes by id, including ones that went away (`alive: false`). Read it as a
   * frozen record (`nodes[id]`, `Object.values(nodes)`); a change of one node costs constant time.
   */
  readonly nodes: Readonly<Record<string, NodeInfo>>;
  /**
   * This session's containers by id, including recently destroyed ones (the last
   * MAX_DESTROYED_KEPT), so late readers still learn how they ended. Changes cost constant time.
   */
  readonly containers: ReadonlyMap<string, ContainerInfo>;
  /** This session's tunnels by id; a tunnel goes with its container. */
  readonly tunnels: Readonly<Record<string, TunnelInfo>>;
  /** This session's running processes by id; a process goes when it ends or its container does. */
  readonly processes: Readonly<Record<string, ProcessInfo>>;
  /** This session's SSH servers by id; one goes when it stops or its container does. */
  readonly sshServers: Readonly<Record<string, SshServerInfo>>;
  /** The user's volumes by id. */
  readonly volumes: Readonly<Record<string, VolumeInfo>>;
  /** The user's tagged containers in other sessions, by id. */
  readonly externals: Readonly<Record<string, ExternalInfo>>;
  /** The domains this location serves, by domain. */
  readonly endpoints: Readonly<Record<string, EndpointInfo>>;
  /** @internal Ids of destroyed containers, oldest first, so the reducer can forget the oldest. */
  readonly destroyedOrder: readonly string[];
}

/** The state before the first event. */
export const initialState: LocationState = {
  nodes: recordOf([]),
  containers: IdMap.of(),
  tunnels: {},
  processes: {},
  sshServers: {},
  volumes: {},
  externals: {},
  endpoints: {},
  destroyedOrder: [],
};

/** Things the SDK itself knows before (or instead of) the location telling it. */
export type LocalAction =
  | { type: 'container_spawning'; container: ContainerInfo }
  | { type: 'container_failed'; container: string; error: ErrorBody }
  | { type: 'tunnel_added'; tunnel: TunnelInfo }
  | { type: 'tunnel_removed'; tunnel: string }
  | { type: 'process_spawning'; process: ProcessInfo }
  /** It ended without a `process_exit` (it could not start, or the connection closed). */
  | { type: 'process_ended'; process: string }
  | { type: 'ssh_server_added'; server: SshServerInfo }
  | { type: 'ssh_server_removed'; server: string }
  /** The session is over without a goodbye (expired, connection lost for good): its containers are gone. */
  | { type: 'session_lost'; error: ErrorBody };

/** What the reducer folds: an event from the location, or a local action. */
export type Action = EventOf | LocalAction;
