/** What every session of one location shares: its name, nodes, and the registry of live sessions. */
import type { NodePool, PoolNode } from './node-pool';
import type { Session } from './session';
import type { ManagedContainer } from './managed-container';
import type { VolumeStore } from './volume-store';
import type { UserChannels } from './user-channels';
import type { AuthorizedUsers } from './authorized-users';
import type { ExternalRegistry } from './external-registry';
import type { WebSites } from './web-sites';
import type { EndpointInfo } from '../protocol';
import type { LayerCache } from './layer-cache';
import type { LogHistoryLimits } from './log-history';
import type { Limits } from './limits';
import type { Quotas } from './quotas';
import type { ConnectionGrants } from './connection-grants';
import type { ImageResolver } from './image-resolver';
import type { EngineLog } from '../engines/engine';

export interface LocationContext {
  readonly name: string;
  readonly nodes: NodePool;
  /** Extra labels put on everything this location creates (e.g. the owning process). */
  readonly labels: Record<string, string>;
  /** Every container of every session, by id: ids are unique location-wide. */
  readonly containers: Map<string, ManagedContainer>;
  /**
   * Ids of containers whose spawn has begun but which are not in `containers` yet: claimed before
   * the spawn's first await, so two spawns of one id cannot both pass the check.
   */
  readonly spawning: Set<string>;
  forget(session: Session): void;
  /** #20: the user's open sessions that have not ended (away ones included). */
  sessionsOf(user: string): Session[];
  /** A live (possibly detached) session by id. */
  findSession(id: string): Session | undefined;
  /** How long a session whose socket dropped waits to be resumed. */
  readonly graceMs: number;
  /** The location's persistent volumes, for every user. */
  readonly volumes: VolumeStore;
  /** Every open session by user, for events that concern all of a user's sessions. */
  readonly channels: UserChannels;
  /** Who may open sessions. */
  readonly users: AuthorizedUsers;
  /** What every session's proof of identity is bound to: this location's link (see identity.ts). */
  readonly channelBinding: string;
  /** Tagged containers, as the other sessions of their user see them. */
  readonly externals: ExternalRegistry;
  /** Host names published through the front door, and the clusters behind them. */
  readonly sites: WebSites;
  /** The domains the front door serves, with its ports, as offered to sessions. */
  endpoints(): EndpointInfo[];
  /** Image layers (shared) and descriptions (per user) uploaded by clients. */
  readonly images: LayerCache;
  /** How much output each container keeps (#16); default DEFAULT_LOG_LIMITS. */
  readonly logLimits?: LogHistoryLimits;
  /** Whether sessions may spawn privileged containers (#16); default no. */
  readonly allowPrivileged?: boolean;
  /** What engines keep of containers' output (engine-logs.ts); undefined: the engine's default. */
  readonly engineLog?: EngineLog;
  /**
   * Reserve a tunnel data connection from an address against connectionsPerAddress (admission.ts);
   * undefined when this location takes none (tunnels then ride the WebSocket only).
   */
  readonly dataConnections?: (address: string) => (() => void) | undefined;
  /** Every limit this location enforces (limits.ts), defaults with the operator's choices on top. */
  readonly limits: Limits;
  /** Per-user counts checked against the limits (quotas.ts). */
  readonly quotas: Quotas;
  /** Which image a spawn runs on its node, loading the user's cached image into it when needed. */
  readonly imageResolver: ImageResolver;
  /** Which containers may open connections to which, and the packet filter enforcing it. */
  readonly grants: ConnectionGrants;
  /** #15: the name servers containers on `node` get (the location's own, see name-server.ts); undefined: their host's. */
  nameServersFor?(node: PoolNode): Promise<string[] | undefined>;
}

export const LABEL = {
  location: 'tfnz.location',
  session: 'tfnz.session',
  user: 'tfnz.user',
  container: 'tfnz.container',
  tag: 'tfnz.tag',
  kind: 'tfnz.kind',
  volume: 'tfnz.volume',
} as const;
