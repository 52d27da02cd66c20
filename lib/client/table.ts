/**
 * An immutable id → value map whose every change costs constant time, read like any ReadonlyMap.
 * A flat record would be copied whole on every change (immer copies each object it modifies), so
 * folding one event would cost O(entries). Here entries sit two levels of 64 slots deep, chosen by
 * a hash of the id: a change copies two 64-slot arrays and one small bucket (about entries/4096
 * ids). Arrays, not records keyed '0'…'1r': V8 copies those keys (array-index-like) many times
 * slower. The layout is internal; users read an `IdMap` with `get`, `has`, `size` and iteration.
 */

/** @deprecated The bucketed layout is internal now: state maps are `ReadonlyMap`s (`IdMap`). */
export type Table<T> = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, T>>>>>>;

/** FNV-1a: cheap, and spreads both random (nanoid) and sequential ids evenly. */
function hash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const FANOUT = 64;
// Levels are 64-slot arrays (a copy is one fast slice); leaves are small Maps of the ids that hash there.
type Bucket<V> = ReadonlyMap<string, V>;
type Level<V> = readonly (Bucket<V> | undefined)[];
type Root<V> = readonly (Level<V> | undefined)[];
const emptyRoot: Root<never> = Object.freeze(new Array(FANOUT).fill(undefined));

/**
 * The immutable map behind `state.containers`: read it as any `ReadonlyMap` (`get`, `has`,
 * `values()`, `size`). A change makes a new map sharing all but one small bucket with the old one,
 * so folding an event stays cheap at 100 000 containers.
 */
export class IdMap<V> implements ReadonlyMap<string, V> {
  private static readonly empty = new IdMap<never>(emptyRoot, 0);

  private constructor(
    private readonly root: Root<V>,
    readonly size: number,
  ) {
    Object.freeze(this);
  }

  /** A map of the given entries. */
  static of<V>(entries: Iterable<readonly [string, V]> = []): IdMap<V> {
    let map: IdMap<V> = IdMap.empty;
    for (const [id, value] of entries) map = map.set(id, value);
    return map;
  }

  /** The value with this id, if any. */
  get(id: string): V | undefined {
    const h = hash(id);
    return this.root[h & 63]?.[(h >>> 6) & 63]?.get(id);
  }

  /** Whether there is a value with this id. */
  has(id: string): boolean {
    const h = hash(id);
    return this.root[h & 63]?.[(h >>> 6) & 63]?.has(id) ?? false;
  }

  /** A new map with `id` set to `value`; this one is unchanged. */
  set(id: string, value: V): IdMap<V> {
    const h = hash(id);
    const a = h & 63;
    const b = (h >>> 6) & 63;
    const level = this.root[a];
    const bucket = new Map(level?.[b]);
    const added = bucket.has(id) ? 0 : 1;
    bucket.set(id, value);
    return new IdMap(this.replace(a, b, level, bucket), this.size + added);
  }

  /** A new map without `id` (this one when it has no `id`). */
  delete(id: string): IdMap<V> {
    const h = hash(id);
    const a = h & 63;
    const b = (h >>> 6) & 63;
    const level = this.root[a];
    if (!level?.[b]?.has(id)) return this;
    const bucket = new Map(level[b]);
    bucket.delete(id);
    return new IdMap(this.replace(a, b, level, bucket.size ? bucket : undefined), this.size - 1);
  }

  *entries(): MapIterator<[string, V]> {
    for (const level of this.root) {
      if (level) for (const bucket of level) if (bucket) yield* bucket;
    }
  }

  *keys(): MapIterator<string> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Every [id, value] pair, in hash order. */
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  /** Calls `fn` with every value and id, in hash order. */
  forEach(fn: (value: V, id: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) fn.call(thisArg, value, id, this);
  }

  get [Symbol.toStringTag](): string {
    return 'IdMap';
  }

  /** A copy of the root with one bucket replaced: two 64-slot slices. */
  private replace(a: number, b: number, level: Level<V> | undefined, bucket: Bucket<V> | undefined): Root<V> {
    const nextLevel = level ? level.slice() : new Array<Bucket<V> | undefined>(FANOUT).fill(undefined);
    nextLevel[b] = bucket;
    const nextRoot = this.root.slice();
    nextRoot[a] = bucket || nextLevel.some((x) => x) ? Object.freeze(nextLevel) : undefined;
    return Object.freeze(nextRoot);
  }
}

/** @deprecated Use `map.get(id)`: state maps are `ReadonlyMap`s now. */
export function tableGet<T>(table: ReadonlyMap<string, T>, id: string): T | undefined {
  return table.get(id);
}

/** @deprecated Use `[...map.values()]`: state maps are `ReadonlyMap`s now. */
export function tableValues<T>(table: ReadonlyMap<string, T>): T[] {
  return [...table.values()];
}

/** @deprecated Use `map.size`: state maps are `ReadonlyMap`s now. */
export function tableSize(table: ReadonlyMap<string, unknown>): number {
  return table.size;
}
