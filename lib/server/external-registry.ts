/**
 * Tagged containers as the other sessions of their user see them: "external containers". A tag is
 * reserved when the spawn is asked for (so two sessions cannot race for it), published once the
 * container runs, and released when it is destroyed or fails to start.
 */
import { TagInUse, type ExternalInfo } from '../protocol';
import type { UserChannels } from './user-channels';

interface Entry {
  user: string;
  session: string;
  tag: string;
  info?: ExternalInfo;
}

export class ExternalRegistry {
  private readonly byId = new Map<string, Entry>();

  constructor(private readonly channels: UserChannels) {}

  /** Claim `tag` for the container `id` of this user; TagInUse if one of the user's containers has it. */
  reserve(user: string, session: string, id: string, tag: string): void {
    const holder = [...this.byId.entries()].find(([, e]) => e.user === user && e.tag === tag);
    if (holder) throw new TagInUse(`container ${holder[0]} is already tagged '${tag}'; destroy it or choose another tag`);
    this.byId.set(id, { user, session, tag });
  }

  /** The container runs: the user's other sessions see it from now on. */
  publish(id: string, info: ExternalInfo): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    entry.info = info;
    this.channels.emit(entry.user, 'external_created', { external: info }, entry.session);
  }

  release(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    if (entry.info) this.channels.emit(entry.user, 'external_destroyed', { external: id }, entry.session);
  }

  /** What `session` of `user` sees: the user's running tagged containers of other sessions. */
  visibleTo(user: string, session: string): ExternalInfo[] {
    return [...this.byId.values()].filter((e) => e.user === user && e.session !== session && e.info).map((e) => e.info!);
  }

  /** The user's external container `id`, if `session` may see it. */
  find(user: string, session: string, id: string): ExternalInfo | undefined {
    const e = this.byId.get(id);
    return e && e.user === user && e.session !== session ? e.info : undefined;
  }
}
