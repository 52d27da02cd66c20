/**
 * A read-only record backed by an IdMap, for state slices users read as plain records
 * (`state.nodes[id]`, `Object.values(state.nodes)`, `id in state.nodes`, spread, JSON): replacing
 * one entry costs an IdMap change (constant time), where a frozen plain record is copied whole
 * (folding one node_stats at 1 000 nodes cost ~630 µs). Keys keep their insertion order; only
 * adding a key copies the list of keys.
 *
 * It reads like a frozen record and refuses every write with a TypeError, `Object.freeze` included
 * (it is a Proxy: `Object.isFrozen` says no, though nothing can change it).
 */
import { IdMap } from './table';

/** What the proxy stands for: the values, and the ids in the order they came. */
class RecordTarget<V> {
  constructor(
    readonly map: IdMap<V>,
    readonly order: readonly string[],
  ) {}

  /** console.log and util.inspect show the entries, not this holder (they call it on the proxy). */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, V> {
    const { map, order } = ((this as unknown as Record<symbol, RecordTarget<V>>)[TARGET] ?? this) as RecordTarget<V>;
    return Object.fromEntries(order.map((id) => [id, map.get(id) as V]));
  }
}

/**
 * The record's prototype: an Object's methods, but not Object.prototype itself, so immer
 * (reducer.ts) takes it for a value, not for a plain object to draft and freeze.
 */
class IdRecordPrototype {}
const PROTOTYPE = IdRecordPrototype.prototype;

const refuse = (): boolean => false;
const own = (target: RecordTarget<unknown>, key: string | symbol): key is string => typeof key === 'string' && target.map.has(key);

/** The key under which a record gives its target to this module (and to no one else). */
const TARGET = Symbol('id record target');

const handler: ProxyHandler<RecordTarget<unknown>> = {
  get: (target, key, receiver) => {
    // One lookup for an id that is there (the common read: `nodes[id]` on every state emission).
    if (typeof key === 'string') {
      const value = target.map.get(key);
      if (value !== undefined || target.map.has(key)) return value;
    }
    return key === TARGET ? target : Reflect.get(PROTOTYPE, key, receiver);
  },
  has: (target, key) => own(target, key) || key in PROTOTYPE,
  ownKeys: (target) => [...target.order],
  getOwnPropertyDescriptor: (target, key) =>
    own(target, key) ? { value: target.map.get(key), writable: false, enumerable: true, configurable: true } : undefined,
  getPrototypeOf: () => PROTOTYPE,
  set: refuse,
  defineProperty: refuse,
  deleteProperty: refuse,
  setPrototypeOf: refuse,
  preventExtensions: refuse,
};

function idRecord<V>(target: RecordTarget<V>): Readonly<Record<string, V>> {
  return new Proxy(target, handler as ProxyHandler<RecordTarget<V>>) as unknown as Readonly<Record<string, V>>;
}

/** The target behind `record` when it is an id record. */
function targetOf<V>(record: Readonly<Record<string, V>>): RecordTarget<V> | undefined {
  return (record as unknown as Record<symbol, RecordTarget<V> | undefined>)[TARGET];
}

/** An id record of these entries (a later one of the same id wins, in the first one's place). */
export function recordOf<V>(entries: Iterable<readonly [string, V]>): Readonly<Record<string, V>> {
  let map = IdMap.of<V>();
  const order: string[] = [];
  for (const [id, value] of entries) {
    if (!map.has(id)) order.push(id);
    map = map.set(id, value);
  }
  return idRecord(new RecordTarget(map, order));
}

/**
 * `record` with `id` set to `value`; `record` is unchanged. Constant time for an id record (the
 * key list is copied only when `id` is new); any other record is first copied into one.
 */
export function recordWith<V>(record: Readonly<Record<string, V>>, id: string, value: V): Readonly<Record<string, V>> {
  const target = targetOf(record) ?? targetOf(recordOf(Object.entries(record)))!;
  const order = target.map.has(id) ? target.order : [...target.order, id];
  return idRecord(new RecordTarget(target.map.set(id, value), order));
}
