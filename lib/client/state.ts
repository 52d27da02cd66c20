/** The immutable picture of a location that a session folds from the location's events. */
import type {
  ContainerInfo, EndpointInfo, ErrorBody, EventOf, ExternalInfo, NodeInfo, TunnelInfo, VolumeInfo,
} from '../protocol';
import { emptyTable, type Table } from './table';

/** Everything the session knows about the location, folded from its events: `Location.state$`. */
export interface LocationState {
  readonly session?: string;
  readonly user?: string;
  readonly location?: string;
  /** Sequence number of the last event folded in. */
  readonly lastSeq: number;
  readonly nodes: Readonly<Record<string, NodeInfo>>;
  /**
   * This session's containers by id, including recently destroyed ones (see MAX_DESTROYED_KEPT).
   * A Table, so that folding stays constant-time: read with tableGet / tableValues / tableSize.
   */
  readonly containers: Table<ContainerInfo>;
  readonly tunnels: Readonly<Record<string, TunnelInfo>>;
  readonly volumes: Readonly<Record<string, VolumeInfo>>;
  readonly externals: Readonly<Record<string, ExternalInfo>>;
  readonly endpoints: Readonly<Record<string, EndpointInfo>>;
  /** Ids of destroyed containers, oldest first, so the reducer can forget the oldest. */
  readonly destroyedOrder: readonly string[];
}

/** The state before the first event. */
export const initialState: LocationState = {
  lastSeq: 0,
  nodes: {},
  containers: emptyTable(),
  tunnels: {},
  volumes: {},
  externals: {},
  endpoints: {},
  destroyedOrder: [],
};

/** Things the SDK itself knows before the location tells it (optimistic entries, local tunnels). */
export type LocalAction =
  | { type: 'container_spawning'; container: ContainerInfo }
  | { type: 'container_failed'; container: string; error: ErrorBody }
  | { type: 'tunnel_added'; tunnel: TunnelInfo }
  | { type: 'tunnel_removed'; tunnel: string }
  /** The session is over without a goodbye (expired, connection lost for good): its containers are gone. */
  | { type: 'session_lost'; error: ErrorBody };

/** What the reducer folds: an event from the location, or a local action. */
export type Action = EventOf | LocalAction;
