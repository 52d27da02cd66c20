/**
 * An immutable id → value table that an immer update changes in constant time. A flat record
 * would be copied whole on every change (immer copies each object it modifies), so folding one
 * event would cost O(entries). Here entries sit two levels of 64 buckets deep, chosen by a hash of
 * the id: a change copies two 64-key buckets and one leaf of about entries/4096 keys.
 * Read it with `tableGet`, `tableValues` and `tableSize`; the structure is plain frozen objects.
 */
import type { Draft } from 'immer';

/** An immutable map from id to value, as state keeps containers, tunnels and volumes. */
export type Table<T> = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, T>>>>>>;

export const emptyTable = <T>(): Table<T> => ({});

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

/** The value for `id`, or undefined. */
export function tableGet<T>(table: Table<T>, id: string): T | undefined {
  const [a, b] = path(id);
  return table[a]?.[b]?.[id];
}

/** Every value of the table. */
export function tableValues<T>(table: Table<T>): T[] {
  const out: T[] = [];
  for (const level of Object.values(table)) for (const leaf of Object.values(level)) out.push(...Object.values(leaf));
  return out;
}

/** How many values the table holds. */
export function tableSize(table: Table<unknown>): number {
  let n = 0;
  for (const level of Object.values(table)) for (const leaf of Object.values(level)) n += Object.keys(leaf).length;
  return n;
}

/** Set inside an immer recipe. */
export function tableSet<T>(table: Draft<Table<T>>, id: string, value: T): void {
  const [a, b] = path(id);
  const t = table as Record<string, Record<string, Record<string, T>>>;
  ((t[a] ??= {})[b] ??= {})[id] = value;
}

/** Delete inside an immer recipe; empty buckets go too. */
export function tableDelete<T>(table: Draft<Table<T>>, id: string): void {
  const [a, b] = path(id);
  const t = table as Record<string, Record<string, Record<string, T>>>;
  const leaf = t[a]?.[b];
  if (!leaf || !(id in leaf)) return;
  delete leaf[id];
  if (Object.keys(leaf).length === 0) delete t[a][b];
  if (Object.keys(t[a]).length === 0) delete t[a];
}

/** The draft of an entry, for changing it in place inside an immer recipe. */
export function tableDraft<T>(table: Draft<Table<T>>, id: string): Draft<T> | undefined {
  const [a, b] = path(id);
  return (table as unknown as Record<string, Record<string, Record<string, Draft<T>>>>)[a]?.[b]?.[id];
}
