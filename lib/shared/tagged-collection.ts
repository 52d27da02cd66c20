/**
 * Objects found by uuid, by tag, or by `uuid:tag`, per user: the guide's TaggedCollection.
 * A tag is unique per user within one collection (one kind of object); two users may share a tag.
 */
import { NotFound, TagInUse } from '../protocol/errors';
import { displayName, parseKey, validTag } from '../protocol/tags';

/** What a TaggedCollection holds: an id, an optional tag, and the owning user. */
export interface Taggable {
  readonly id: string;
  readonly tag?: string;
  /** The owning user. */
  readonly user: string;
}

/**
 * Objects found by uuid, by tag, or by `uuid:tag`, per user; a tag is unique per user within one
 * collection.
 */
export class TaggedCollection<T extends Taggable> implements Iterable<T> {
  private readonly byId = new Map<string, T>();
  /** `${user}\0${tag}` → object. */
  private readonly byTag = new Map<string, T>();

  constructor(initial: Iterable<T> = []) {
    for (const obj of initial) this.add(obj);
  }

  /** Add an object; TagInUse if the user already has another object with its tag. */
  add(obj: T): void {
    if (this.willClash(obj.user, obj.id, obj.tag)) {
      throw new TagInUse(`tag '${obj.tag}' is already used by ${this.byTag.get(tagKey(obj.user, validTag(obj.tag)))!.id}; choose another tag`);
    }
    this.remove(obj);
    this.byId.set(obj.id, obj);
    if (obj.tag) this.byTag.set(tagKey(obj.user, validTag(obj.tag)), obj);
  }

  /** Forget the object with this id (nothing when there is none). */
  remove(obj: Pick<T, 'id'>): void {
    const existing = this.byId.get(obj.id);
    if (!existing) return;
    this.byId.delete(obj.id);
    if (existing.tag) this.byTag.delete(tagKey(existing.user, validTag(existing.tag)));
  }

  /** True when adding an object with this id and tag would take another object's tag. */
  willClash(user: string, id: string, tag?: string): boolean {
    if (!tag) return false;
    const holder = this.byTag.get(tagKey(user, validTag(tag)));
    return holder !== undefined && holder.id !== id;
  }

  /**
   * The user's object for `key`: a uuid, a tag, or `uuid:tag` (both must match). A single word is
   * tried as a uuid first, then as a tag. NotFound when nothing matches for this user.
   */
  get(user: string, key: string): T {
    const found = this.find(user, key);
    if (!found) throw new NotFound(`nothing answers to '${key}' here; use a uuid, a tag or uuid:tag from displayName`);
    return found;
  }

  /** Like `get`, but undefined when nothing matches. */
  find(user: string, key: string): T | undefined {
    const { id, tag, word } = parseKey(key);
    if (word !== undefined) {
      const byId = this.byId.get(word);
      if (byId && byId.user === user) return byId;
      try {
        return this.byTag.get(tagKey(user, validTag(word)));
      } catch {
        return undefined; // not a valid tag either
      }
    }
    const obj = this.byId.get(id!);
    return obj && obj.user === user && obj.tag !== undefined && validTag(obj.tag) === tag ? obj : undefined;
  }

  /** Whether `key` names an object of this user. */
  has(user: string, key: string): boolean {
    return this.find(user, key) !== undefined;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Every object, of every user. */
  values(): T[] {
    return [...this.byId.values()];
  }

  /** Every object, of every user. */
  [Symbol.iterator](): Iterator<T> {
    return this.byId.values();
  }
}

function tagKey(user: string, tag: string): string {
  return `${user}\0${tag}`;
}

export { displayName };
