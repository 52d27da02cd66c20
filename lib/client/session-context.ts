/** What a Location shares with the handles it hands out (Node, Container, Tunnel). */
import type { BehaviorSubject } from 'rxjs';
import type { Connection } from './connection';
import type { LocalAction, LocationState } from './state';
import type { Logger } from './log';
import type { TunnelRouter } from './tunnel-router';
import type { Node } from './node';
import type { Container } from './container';

export interface SessionContext {
  readonly connection: Connection;
  readonly state$: BehaviorSubject<LocationState>;
  dispatch(action: LocalAction): void;
  readonly log: Logger;
  readonly tunnels: TunnelRouter;
  nodeHandle(id: string): Node;
  /** Handles of this session's containers, by id. */
  readonly containers: Map<string, Container>;
  /** The image id the user's own Docker Engine has for `name`, if it has one. */
  localImageId(name: string): Promise<string | undefined>;
  /** Upload `name` from the user's engine to the location's cache (what is missing); shared by concurrent callers. */
  ensureUploaded(name: string): Promise<string[]>;
}
