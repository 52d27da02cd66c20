/**
 * An immutable id → value map whose every change costs constant time, read like any ReadonlyMap.
 * A flat record would be copied whole on every change (immer copies each object it modifies), so
 * folding one event would cost O(entries). Here entries sit two levels of 64 buckets deep, chosen
 * by a hash of the id: a change copies two 64-key buckets and one leaf of about entries/4096 keys.
 * The buckets are internal; users read an `IdMap` with `get`, `has`, `size` and iteration.
 */

/** @deprecated The bucketed layout is internal now: state maps are `ReadonlyMap`s (`IdMap`). */
export type Table<T> = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, T>>>>>>;
type Leaf<T> = Readonly<Record<string, T>>;
type Level<T> = Readonly<Record<string, Leaf<T>>>;

/** FNV-1a: cheap, and spreads both random (nanoid) and sequential ids evenly. */
function hash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function path(id: string): [string, string] {
  const h = hash(id);
  return [(h & 63).toString(36), ((h >>> 6) & 63).toString(36)];
}

const EMPTY = Object.freeze({});

export class IdMap<V> implements ReadonlyMap<string, V> {
  private static readonly empty = new IdMap<never>(EMPTY, 0);

  private constructor(
    private readonly root: Readonly<Record<string, Level<V>>>,
    readonly size: number,
  ) {
    Object.freeze(this);
  }

  static of<V>(entries: Iterable<readonly [string, V]> = []): IdMap<V> {
    let map: IdMap<V> = IdMap.empty;
    for (const [id, value] of entries) map = map.set(id, value);
    return map;
  }

  get(id: string): V | undefined {
    const [a, b] = path(id);
    const leaf = this.root[a]?.[b];
    return leaf && Object.hasOwn(leaf, id) ? leaf[id] : undefined;
  }

  has(id: string): boolean {
    const [a, b] = path(id);
    const leaf = this.root[a]?.[b];
    return leaf !== undefined && Object.hasOwn(leaf, id);
  }

  /** A new map with `id` set to `value`; this one is unchanged. */
  set(id: string, value: V): IdMap<V> {
    const [a, b] = path(id);
    const level = this.root[a] ?? EMPTY;
    const leaf: Leaf<V> = level[b] ?? EMPTY;
    const added = Object.hasOwn(leaf, id) ? 0 : 1;
    const nextLeaf = Object.freeze({ ...leaf, [id]: value });
    const nextLevel = Object.freeze({ ...level, [b]: nextLeaf });
    return new IdMap(Object.freeze({ ...this.root, [a]: nextLevel }), this.size + added);
  }

  /** A new map without `id` (this one when it has no `id`); empty buckets go too. */
  delete(id: string): IdMap<V> {
    const [a, b] = path(id);
    const level = this.root[a];
    const leaf = level?.[b];
    if (!leaf || !Object.hasOwn(leaf, id)) return this;
    const { [id]: _gone, ...restLeaf } = leaf;
    const nextLevel: Record<string, Leaf<V>> = { ...level };
    if (Object.keys(restLeaf).length) nextLevel[b] = Object.freeze(restLeaf);
    else delete nextLevel[b];
    const nextRoot: Record<string, Level<V>> = { ...this.root };
    if (Object.keys(nextLevel).length) nextRoot[a] = Object.freeze(nextLevel);
    else delete nextRoot[a];
    return new IdMap(Object.freeze(nextRoot), this.size - 1);
  }

  *entries(): MapIterator<[string, V]> {
    for (const level of Object.values(this.root)) {
      for (const leaf of Object.values(level)) for (const id of Object.keys(leaf)) yield [id, leaf[id]];
    }
  }

  *keys(): MapIterator<string> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, id: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) fn.call(thisArg, value, id, this);
  }

  get [Symbol.toStringTag](): string {
    return 'IdMap';
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
