/**
 * What the dashboard page shows, folded from the SDK's `LocationState` snapshots: nodes with a
 * bounded history of their stats (the state keeps only the latest sample), the user's containers
 * per node with their status (ones that went away stay a while, marked `gone`), and the location's
 * web endpoints. Pure: no socket, no clock of its own, so it is unit-tested with plain states.
 */
import type { ContainerStatus, EndpointInfo, NodeStats } from '../../protocol';
import type { LocationState } from '../../client/state';

/** Stats samples kept per node for the charts (at the default 5 s interval: 10 minutes). */
export const MAX_SAMPLES = 120;
/** Containers that went away, kept (newest first) so the page can say how they ended. */
export const MAX_GONE_KEPT = 20;

/** One stats sample of a node: when it reached the dashboard (ms since the epoch) and what it said. */
export interface NodeSample extends NodeStats {
  time: number;
}

/** A node as the page draws it. */
export interface DashboardNode {
  id: string;
  name: string;
  alive: boolean;
  /** Oldest first, at most MAX_SAMPLES. */
  samples: NodeSample[];
}

/** A container of the user as the page lists it under its node. */
export interface DashboardContainer {
  id: string;
  tag?: string;
  node: string;
  /** Known for this session's own containers only: another session's tagged container says no image. */
  image?: string;
  /** `gone`: another session's container that is no longer running (it ended or was destroyed). */
  status: ContainerStatus | 'gone';
  /** Which session runs it: this one (`own`) or another of the user's (`other`). */
  session: 'own' | 'other';
  /** When the dashboard first saw it (ms since the epoch). */
  seen: number;
}

/** Everything one page update carries. */
export interface DashboardView {
  location?: string;
  user?: string;
  nodes: DashboardNode[];
  containers: DashboardContainer[];
  endpoints: EndpointInfo[];
}

/** Folds state snapshots into views, keeping what the state forgets (stats history, gone containers). */
export class DashboardModel {
  private readonly history = new Map<string, { stats: NodeStats; samples: NodeSample[] }>();
  private readonly firstSeen = new Map<string, number>();
  private gone: DashboardContainer[] = [];
  private previous = new Map<string, DashboardContainer>();

  /** The view of `state` as of `now`; call it with every state the SDK folds (or a sample of them). */
  fold(state: LocationState, now: number): DashboardView {
    const nodes = Object.values(state.nodes).map((n) => {
      const kept = this.history.get(n.id);
      // A new stats object means a new sample (immer keeps the old one when nothing changed).
      if (!kept || kept.stats !== n.stats) {
        const samples = [...(kept?.samples ?? []), { time: now, ...n.stats }].slice(-MAX_SAMPLES);
        this.history.set(n.id, { stats: n.stats, samples });
      }
      return { id: n.id, name: n.name, alive: n.alive, samples: this.history.get(n.id)!.samples };
    });

    const current = new Map<string, DashboardContainer>();
    const seen = (id: string) => this.firstSeen.get(id) ?? (this.firstSeen.set(id, now), now);
    for (const c of state.containers.values()) {
      current.set(c.id, { id: c.id, tag: c.tag, node: c.node, image: c.image, status: c.status, session: 'own', seen: seen(c.id) });
    }
    for (const e of Object.values(state.externals)) {
      current.set(e.id, { id: e.id, tag: e.tag, node: e.node, status: 'running', session: 'other', seen: seen(e.id) });
    }
    for (const [id, was] of this.previous) {
      if (!current.has(id)) this.gone = [{ ...was, status: was.session === 'own' ? 'destroyed' : 'gone' }, ...this.gone.filter((g) => g.id !== id)];
    }
    this.gone = this.gone.filter((g) => !current.has(g.id));
    for (const dropped of this.gone.slice(MAX_GONE_KEPT)) this.firstSeen.delete(dropped.id);
    this.gone = this.gone.slice(0, MAX_GONE_KEPT);
    this.previous = current;

    return {
      location: state.location,
      user: state.user,
      nodes,
      containers: [...current.values(), ...this.gone],
      endpoints: Object.values(state.endpoints),
    };
  }
}
