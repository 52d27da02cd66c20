/**
 * A persistent volume: outlives sessions and location restarts, and is never collected with a
 * session. Created and destroyed by the Location (the parent); mounted with spawn's `volumes`.
 */
import type { VolumeInfo } from '../protocol';
import { displayName } from '../protocol/tags';
import type { SessionContext } from './session-context';

/**
 * A persistent volume at the location, from `Location.createVolume` or `ensureVolume`; mount it
 * with `SpawnOptions.volumes`. Volumes outlive sessions until destroyed.
 */
export class Volume {
  /** @internal Use `loc.createVolume`, `loc.ensureVolume` or `loc.volume`. */
  constructor(
    private readonly ctx: SessionContext,
    readonly info: VolumeInfo,
  ) {}

  get id(): string {
    return this.info.id;
  }
  get tag(): string | undefined {
    return this.info.tag;
  }
  /** The node that holds it: containers mounting it must be spawned there. */
  get nodeId(): string {
    return this.info.node;
  }
  /** `uuid:tag`, or just the uuid when untagged. */
  get displayName(): string {
    return displayName(this.id, this.tag);
  }

  /** Keep a copy of the content as it is now (replacing the previous one). No running container may mount it. */
  async snapshot(): Promise<void> {
    await this.ctx.connection.request('snapshot_volume', { volume: this.id }, 600_000);
  }

  /** Return the content to the last snapshot (or to empty). No container may mount it. */
  async rollback(): Promise<void> {
    await this.ctx.connection.request('rollback_volume', { volume: this.id }, 600_000);
  }
}
