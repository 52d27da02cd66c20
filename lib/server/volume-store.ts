/**
 * The location's persistent volumes: Docker volumes labelled with their owner and tag, kept across
 * sessions and location restarts (the engine is the source of truth; `load` reads it back), and
 * never collected with a session. Each user's sessions hear of creations and destructions live.
 * A volume lives on the node that was best when it was made; containers mounting it run there.
 */
import { nanoid } from 'nanoid';
import { NotFound, TagInUse, VolumeInUse, type VolumeInfo } from '../protocol';
import type { UserChannels } from './user-channels';
import { validTag } from '../protocol/tags';
import { TaggedCollection } from '../shared/tagged-collection';
import type { NodePool, PoolNode } from './node-pool';
import { LABEL } from './location-context';

interface StoredVolume {
  id: string;
  tag?: string;
  user: string;
  node: PoolNode;
}


const KIND_VOLUME = 'volume';
const KIND_SNAPSHOT = 'volume-snapshot';
const volumeName = (id: string) => `tfnz-vol-${id}`;
const snapshotName = (id: string) => `tfnz-snap-${id}`;

export class VolumeStore {
  private readonly volumes = new TaggedCollection<StoredVolume>();
  constructor(
    private readonly nodes: NodePool,
    private readonly location: string,
    private readonly channels: UserChannels,
  ) {}

  /** Read back every volume this location made, from the engines' labels. */
  async load(): Promise<number> {
    for (const node of this.nodes.list().filter((n) => n.alive).map((n) => this.nodes.get(n.id))) {
      const found = await node.engine.listVolumes({ [LABEL.location]: this.location, [LABEL.kind]: KIND_VOLUME });
      for (const v of found) {
        const id = v.labels[LABEL.volume];
        if (id) this.volumes.add({ id, user: v.labels[LABEL.user] ?? '', tag: v.labels[LABEL.tag] || undefined, node });
      }
    }
    return this.volumes.size;
  }

  list(user: string): VolumeInfo[] {
    return this.volumes.values().filter((v) => v.user === user).map(info);
  }

  /** The user's volume for a uuid, tag or uuid:tag. */
  resolve(user: string, key: string): StoredVolume {
    const v = this.volumes.find(user, key);
    if (!v) throw new NotFound(`no volume '${key}' for this user; create it with createVolume({ tag }) or list them with allVolumes()`);
    return v;
  }

  engineName(v: StoredVolume): string {
    return volumeName(v.id);
  }

  async create(user: string, rawTag?: string): Promise<VolumeInfo> {
    const tag = rawTag === undefined ? undefined : validTag(rawTag);
    const id = nanoid();
    if (this.volumes.willClash(user, id, tag)) throw new TagInUse(`you already have a volume tagged '${tag}'; use ensureVolume('${tag}') to reuse it`);
    const node = this.nodes.any();
    await node.engine.createVolume(volumeName(id), this.labels(user, id, KIND_VOLUME, tag));
    const stored: StoredVolume = { id, tag, user, node };
    this.volumes.add(stored);
    this.channels.emit(user, 'volume_created', { volume: info(stored) });
    return info(stored);
  }

  async destroy(user: string, key: string): Promise<void> {
    const v = this.resolve(user, key);
    const engine = v.node.engine;
    await this.refuseIfMounted(v, false, 'destroyed');
    if (!(await engine.removeVolume(volumeName(v.id)))) await this.refuseIfMounted(v, false, 'destroyed');
    await engine.removeVolume(snapshotName(v.id));
    this.volumes.remove(v);
    this.channels.emit(user, 'volume_destroyed', { volume: v.id });
  }

  /** Keep a copy of the volume as it is now; the previous snapshot is replaced. */
  async snapshot(user: string, key: string): Promise<void> {
    const v = this.resolve(user, key);
    await this.refuseIfMounted(v, true, 'snapshotted');
    const engine = v.node.engine;
    await engine.removeVolume(snapshotName(v.id));
    await engine.createVolume(snapshotName(v.id), this.labels(user, v.id, KIND_SNAPSHOT, v.tag));
    await engine.copyVolume(volumeName(v.id), snapshotName(v.id), carrierLabels(v.id));
  }

  /** Return the volume to its last snapshot (or to empty, if none was taken). */
  async rollback(user: string, key: string): Promise<void> {
    const v = this.resolve(user, key);
    await this.refuseIfMounted(v, false, 'rolled back');
    const engine = v.node.engine;
    if (!(await engine.removeVolume(volumeName(v.id)))) await this.refuseIfMounted(v, false, 'rolled back');
    await engine.createVolume(volumeName(v.id), this.labels(user, v.id, KIND_VOLUME, v.tag));
    const snapshots = await engine.listVolumes({ [LABEL.volume]: v.id, [LABEL.kind]: KIND_SNAPSHOT });
    if (snapshots.length) await engine.copyVolume(snapshotName(v.id), volumeName(v.id), carrierLabels(v.id));
  }

  private async refuseIfMounted(v: StoredVolume, runningOnly: boolean, what: string): Promise<void> {
    const users = await v.node.engine.volumeUsers(volumeName(v.id), runningOnly);
    if (users.length) {
      throw new VolumeInUse(`volume ${v.tag ?? v.id} is mounted in ${users.join(', ')}; destroy ${users.length > 1 ? 'those containers' : 'that container'} before it can be ${what}`);
    }
  }

  private labels(user: string, id: string, kind: string, tag?: string): Record<string, string> {
    const labels: Record<string, string> = { [LABEL.location]: this.location, [LABEL.kind]: kind, [LABEL.user]: user, [LABEL.volume]: id };
    if (tag) labels[LABEL.tag] = tag;
    return labels;
  }
}

/** Carriers live for one copy; without the location label no reaper mistakes them for orphans. */
function carrierLabels(id: string): Record<string, string> {
  return { [LABEL.kind]: 'volume-carrier', [LABEL.volume]: id };
}

function info(v: StoredVolume): VolumeInfo {
  return { id: v.id, tag: v.tag, node: v.node.info.id };
}
