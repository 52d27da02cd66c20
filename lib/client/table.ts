/**
 * An immutable id → value map whose every change costs constant time, read like any ReadonlyMap.
 * A flat record would be copied whole on every change, so folding one event would cost O(entries).
 * Here entries sit in a hash trie: 64-slot arrays chosen by 6 bits of a hash of the id at a time,
 * each slot empty, a small leaf of ids, or a deeper array once a leaf holds more than LEAF_MAX ids.
 * A change copies one 64-slot array per level (one at 100 entries, three at 100 000) and one leaf.
 * The arrays are private and never changed after construction; they are not frozen, because V8
 * copies a frozen array (`slice`) on its slow path, many times slower than an ordinary one.
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
const BITS = 6;
/** A leaf splits into a deeper level past this many ids (unless the hash has no bits left). */
const LEAF_MAX = 8;
const MAX_SHIFT = 30;

/** Ids whose hashes agree so far, with their values at the same index. */
class Leaf<V> {
  constructor(
    readonly ids: readonly string[],
    readonly values: readonly V[],
  ) {}
}
type Slot<V> = Leaf<V> | Level<V> | undefined;
type Level<V> = Slot<V>[];

const newLevel = <V>(): Level<V> => new Array<Slot<V>>(FANOUT).fill(undefined);

/** A copy of `level` with `id` set to `value`, and whether the id is new. */
function setIn<V>(level: Level<V>, h: number, shift: number, id: string, value: V): [Level<V>, boolean] {
  const i = (h >>> shift) & (FANOUT - 1);
  const slot = level[i];
  const next = level.slice();
  if (slot === undefined) {
    next[i] = new Leaf([id], [value]);
    return [next, true];
  }
  if (slot instanceof Leaf) {
    const at = slot.ids.indexOf(id);
    if (at >= 0) {
      const values = slot.values.slice();
      values[at] = value;
      next[i] = new Leaf(slot.ids, values);
      return [next, false];
    }
    if (slot.ids.length < LEAF_MAX || shift + BITS > MAX_SHIFT) {
      next[i] = new Leaf([...slot.ids, id], [...slot.values, value]);
      return [next, true];
    }
    // Too many ids here: spread them over a deeper level.
    let deeper = newLevel<V>();
    for (let k = 0; k < slot.ids.length; k++) deeper = setIn(deeper, hash(slot.ids[k]), shift + BITS, slot.ids[k], slot.values[k])[0];
    next[i] = setIn(deeper, h, shift + BITS, id, value)[0];
    return [next, true];
  }
  const [child, added] = setIn(slot, h, shift + BITS, id, value);
  next[i] = child;
  return [next, added];
}

/** A copy of `level` without `id` (undefined when nothing is left in it), or `level` itself if `id` is absent. */
function deleteIn<V>(level: Level<V>, h: number, shift: number, id: string): Level<V> | undefined {
  const i = (h >>> shift) & (FANOUT - 1);
  const slot = level[i];
  if (slot === undefined) return level;
  let replacement: Slot<V>;
  if (slot instanceof Leaf) {
    const at = slot.ids.indexOf(id);
    if (at < 0) return level;
    replacement = slot.ids.length === 1
      ? undefined
      : new Leaf(slot.ids.filter((_, k) => k !== at), slot.values.filter((_, k) => k !== at));
  } else {
    replacement = deleteIn(slot, h, shift + BITS, id);
    if (replacement === slot) return level;
  }
  const next = level.slice();
  next[i] = replacement;
  return next.some((x) => x !== undefined) ? next : undefined;
}

function leafOf<V>(root: Level<V>, id: string): [Leaf<V>, number] | undefined {
  const h = hash(id);
  let slot: Slot<V> = root;
  for (let shift = 0; ; shift += BITS) {
    slot = (slot as Level<V>)[(h >>> shift) & (FANOUT - 1)];
    if (slot === undefined) return undefined;
    if (slot instanceof Leaf) {
      const at = slot.ids.indexOf(id);
      return at < 0 ? undefined : [slot, at];
    }
  }
}

function* walk<V>(level: Level<V>): Generator<[string, V], void, unknown> {
  for (const slot of level) {
    if (slot === undefined) continue;
    if (slot instanceof Leaf) for (let k = 0; k < slot.ids.length; k++) yield [slot.ids[k], slot.values[k]];
    else yield* walk(slot);
  }
}

/**
 * The immutable map behind `state.containers`: read it as any `ReadonlyMap` (`get`, `has`,
 * `values()`, `size`). A change makes a new map sharing all but one path with the old one,
 * so folding an event stays cheap at 100 000 containers.
 */
export class IdMap<V> implements ReadonlyMap<string, V> {
  private static readonly empty = new IdMap<never>(newLevel(), 0);

  private constructor(
    private readonly root: Level<V>,
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
    const found = leafOf(this.root, id);
    return found && found[0].values[found[1]];
  }

  /** Whether there is a value with this id. */
  has(id: string): boolean {
    return leafOf(this.root, id) !== undefined;
  }

  /** A new map with `id` set to `value`; this one is unchanged. */
  set(id: string, value: V): IdMap<V> {
    const [root, added] = setIn(this.root, hash(id), 0, id, value);
    return new IdMap(root, this.size + (added ? 1 : 0));
  }

  /** A new map without `id` (this one when it has no `id`). */
  delete(id: string): IdMap<V> {
    const root = deleteIn(this.root, hash(id), 0, id);
    if (root === this.root) return this;
    return new IdMap(root ?? newLevel(), this.size - 1);
  }

  *entries(): MapIterator<[string, V]> {
    yield* walk(this.root);
  }

  *keys(): MapIterator<string> {
    for (const [id] of walk(this.root)) yield id;
  }

  *values(): MapIterator<V> {
    for (const [, value] of walk(this.root)) yield value;
  }

  /** Every [id, value] pair, in hash order. */
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  /** Calls `fn` with every value and id, in hash order. */
  forEach(fn: (value: V, id: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of walk(this.root)) fn.call(thisArg, value, id, this);
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
