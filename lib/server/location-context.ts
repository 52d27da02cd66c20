/** What every session of one location shares: its name, nodes, and the registry of live sessions. */
import type { NodePool } from './node-pool';
import type { Session } from './session';
import type { ManagedContainer } from './managed-container';

export interface LocationContext {
  readonly name: string;
  readonly nodes: NodePool;
  /** Extra labels put on everything this location creates (e.g. the owning process). */
  readonly labels: Record<string, string>;
  /** Every container of every session, by id: ids are unique location-wide. */
  readonly containers: Map<string, ManagedContainer>;
  forget(session: Session): void;
}

export const LABEL = {
  location: 'tfnz.location',
  session: 'tfnz.session',
  user: 'tfnz.user',
  container: 'tfnz.container',
  tag: 'tfnz.tag',
} as const;
