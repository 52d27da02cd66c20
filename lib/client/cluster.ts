/**
 * A group of containers that a WebEndpoint balances requests over. Membership is live: containers
 * added or removed while the cluster is published take or stop taking requests at once.
 * `containers$` replays the membership and follows it, for rules that scale a cluster.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { nanoid } from 'nanoid';
import { Container } from './container';
import type { ExternalContainer } from './external-container';
import type { SessionContext } from './session-context';

/** What a cluster balances over: containers of this session, or tagged ones of another. */
export type ClusterMember = Container | ExternalContainer;

/** Options of `new Cluster`. */
export interface ClusterOptions {
  containers?: ClusterMember[];
  /** Put this in the Host header of the requests the containers receive (e.g. the name they expect). */
  rewrite?: string;
}

/**
 * Containers that serve one web site together: published at a host name on a `WebEndpoint`, the
 * front door balances requests over its members; members can be added and removed while it serves.
 */
export class Cluster {
  /** Made here, so the location knows the cluster by the same id once it is published. */
  readonly id = nanoid();
  readonly rewrite?: string;
  readonly containers$: Observable<readonly ClusterMember[]>;
  private readonly members: BehaviorSubject<readonly ClusterMember[]>;
  private publication?: { ctx: SessionContext; fqdn: string };

  constructor(opts: ClusterOptions = {}) {
    this.rewrite = opts.rewrite;
    this.members = new BehaviorSubject<readonly ClusterMember[]>([...new Set(opts.containers ?? [])]);
    this.containers$ = this.members.asObservable();
  }

  get containers(): readonly ClusterMember[] {
    return this.members.value;
  }

  /** The host name it is published at, if it is. */
  get fqdn(): string | undefined {
    return this.publication?.fqdn;
  }

  /** Waits for the container to run, then (if published) lets it take requests. Adding twice is a no-op. */
  async addContainer(container: ClusterMember): Promise<void> {
    if (this.has(container)) return;
    if (container instanceof Container) await container.ready();
    if (this.publication) await this.publication.ctx.connection.request('add_to_cluster', { cluster: this.id, container: container.id });
    if (!this.has(container)) this.members.next([...this.members.value, container]);
  }

  /**
   * No new requests go to the container; those it is serving finish. Removing an absent container
   * is a no-op. Remove a container before destroying it, and no request fails on its account.
   */
  async removeContainer(container: ClusterMember): Promise<void> {
    if (!this.has(container)) return;
    this.members.next(this.members.value.filter((m) => m.id !== container.id));
    if (this.publication) await this.publication.ctx.connection.request('remove_from_cluster', { cluster: this.id, container: container.id });
  }

  /** @internal The WebEndpoint published it. */
  published(ctx: SessionContext, fqdn: string): void {
    this.publication = { ctx, fqdn };
  }

  /** @internal The WebEndpoint unpublished it. */
  unpublished(): void {
    this.publication = undefined;
  }

  private has(container: ClusterMember): boolean {
    return this.members.value.some((m) => m.id === container.id);
  }
}
