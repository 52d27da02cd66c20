/** What a Location shares with the handles it hands out (Node, Container, Tunnel...). */
import type { BehaviorSubject } from 'rxjs';
import type { RegistryAuth } from '../protocol';
import type { Connection } from './connection';
import type { LocalAction, LocationState } from './state';
import type { Logger } from './log';
import type { TunnelRouter } from './tunnel-router';
import type { EventRouter } from './event-router';
import type { Node } from './node';
import type { Container } from './container';
import type { Process } from './process';
import type { Tunnel } from './tunnel';
import type { SshServer } from './ssh-server';
import type { DataConnection } from './data-connection';

/**
 * Handle objects by id, so one id always gives the same object. Only a cache: which objects
 * exist, and in what status, is read from the state.
 */
export interface HandleCache {
  readonly containers: Map<string, Container>;
  readonly processes: Map<string, Process>;
  readonly tunnels: Map<string, Tunnel>;
  readonly sshServers: Map<string, SshServer>;
}

export interface SessionContext {
  readonly connection: Connection;
  readonly state$: BehaviorSubject<LocationState>;
  dispatch(action: LocalAction): void;
  readonly log: Logger;
  /** The location's per-object events, by owner id. */
  readonly events: EventRouter;
  readonly tunnels: TunnelRouter;
  /**
   * Whether tunnels to containers on node `node` connect straight to the container's private
   * address instead of relaying through the location: the location runs in this process
   * (embedded), or on this process's network stack with that node's containers on it too
   * (open_session's `networkStack`, the node's `onLocationStack`); never with `directTunnels: false`.
   */
  directTunnelsTo(node: string): boolean;
  /** Direct tunnels may be forwarded by the kernel where this process can (kernel-forward.ts). */
  readonly kernelTunnels: boolean;
  /**
   * Set once the session is open when the location takes data connections: opens one for tunnel
   * connection `conn` with a secret from tunnel_link (tunnel.ts); without it tunnels ride the WebSocket.
   */
  dialData?: (conn: number, secret: Uint8Array, received: number) => Promise<DataConnection>;
  readonly handles: HandleCache;
  nodeHandle(id: string): Node;
  /** The handle of this session's container `id` (made from the state when it has none yet). */
  containerHandle(id: string): Container | undefined;
  /** The image id the user's own Docker Engine has for `name`, if it has one. */
  localImageId(name: string): Promise<string | undefined>;
  /** Upload `name` from the user's engine to the location's cache (what is missing); shared by concurrent callers. */
  ensureUploaded(name: string): Promise<string[]>;
  /** #19: the credentials this session has for the registry `image` names (connect's registryAuth, the Docker config). */
  registryAuthFor(image: string): RegistryAuth | undefined;
}
