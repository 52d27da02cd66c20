/**
 * A tagged container of another session of the same user, seen from this one. This session did
 * not make it, so it cannot destroy it; it can find it (by uuid, tag or uuid:tag) and reach it.
 */
import type { ExternalInfo } from '../protocol';
import { displayName } from '../protocol/tags';

export class ExternalContainer {
  /** @internal Use `loc.externalContainer(key)`. */
  constructor(readonly info: ExternalInfo) {}

  get id(): string {
    return this.info.id;
  }
  get tag(): string {
    return this.info.tag;
  }
  /** The node it runs on. */
  get node(): string {
    return this.info.node;
  }
  get privateIp(): string | undefined {
    return this.info.privateIp;
  }
  get displayName(): string {
    return displayName(this.id, this.tag);
  }
}
