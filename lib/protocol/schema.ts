/**
 * A small typed schema builder: one declaration gives both the TypeScript types of a value (what a
 * sender passes, `Input`, and what a receiver gets once checked, `Output`) and the run-time check
 * of a value off the wire. A failed check is a BadRequest naming the field and what it must be,
 * e.g. "'port' must be an integer 1-65535 (got 0)".
 *
 * Hand-written rather than a schema library because the wire has its own conventions (msgpack
 * `nil` and `undefined` both mean "absent", binary arrives as Buffer) and every message must tell a
 * user what to do; the whole builder is smaller than any library's error customisation would be,
 * and the SDK bundle, which imports the catalogue, gains no dependency.
 */
import { BadRequest, TfnzError } from './errors';

/** A checked value of type `Out`, sent as `In`. */
export interface Schema<Out, In = Out> {
  /** What a valid value is, in words: "an integer 1-65535". */
  readonly expected: string;
  /** The checked (possibly normalised) value, or a TfnzError naming `path`. */
  parse(value: unknown, path: string): Out;
  /** Type-level only: never set. */
  readonly types?: { in: In; out: Out };
}

/** A field that may be absent (`undefined` or msgpack `nil`). */
export interface OptionalSchema<Out, In = Out> extends Schema<Out | undefined, In | undefined> {
  readonly optional: true;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySchema = Schema<any, any>;
export type Output<S extends AnySchema> = NonNullable<S['types']>['out'];
export type Input<S extends AnySchema> = NonNullable<S['types']>['in'];

export type Shape = Record<string, AnySchema>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Flat<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<S extends Shape, Get extends 'in' | 'out'> = [keyof S] extends [never]
  ? Record<string, never>
  : Flat<
      { [K in RequiredKeys<S>]: NonNullable<S[K]['types']>[Get] } & { [K in OptionalKeys<S>]?: NonNullable<S[K]['types']>[Get] }
    >;
export type ObjectSchema<S extends Shape> = Schema<ObjectOf<S, 'out'>, ObjectOf<S, 'in'>> & { readonly shape: S };

/** `'port'`, `'volumes[1][0]'`, `'volume.id'`: how a message names a field. */
const quoted = (path: string) => `'${path || 'params'}'`;

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return String(value);
}

/** The BadRequest for a value at `path` that is not what `expected` says. */
export function invalid(path: string, expected: string, value: unknown): BadRequest {
  return new BadRequest(`${quoted(path)} must be ${expected} (got ${describe(value)})`);
}

function schema<Out, In = Out>(expected: string, parse: (value: unknown, path: string) => Out): Schema<Out, In> {
  return { expected, parse };
}

/** A string (non-empty unless `empty`), optionally matching `pattern` (then `expected` says how). */
export function string(opts: { pattern?: RegExp; expected?: string; empty?: boolean } = {}): Schema<string> {
  const expected = opts.expected ?? (opts.empty ? 'a string' : 'a non-empty string');
  return schema(expected, (v, path) => {
    if (typeof v !== 'string' || (v === '' && !opts.empty) || (opts.pattern && !opts.pattern.test(v))) throw invalid(path, expected, v);
    return v;
  });
}

/** A whole number from `min` to `max`. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER): Schema<number> {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer ${min}-${max}`;
  return schema(expected, (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(path, expected, v);
    return v;
  });
}

export function boolean(): Schema<boolean> {
  return schema('true or false', (v, path) => {
    if (typeof v !== 'boolean') throw invalid(path, 'true or false', v);
    return v;
  });
}

/** Binary (msgpack bin: a Buffer or Uint8Array), at most `max` bytes. */
export function bytes(max = Number.MAX_SAFE_INTEGER): Schema<Uint8Array> {
  const expected = max === Number.MAX_SAFE_INTEGER ? 'binary data' : `binary data of at most ${max} bytes`;
  return schema(expected, (v, path) => {
    if (!(v instanceof Uint8Array) || v.length > max) throw invalid(path, expected, v);
    return v;
  });
}

/** One of a few string constants. */
export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  const expected = `one of ${values.map((v) => `'${v}'`).join(', ')}`;
  return schema(expected, (v, path) => {
    if (!values.includes(v as T)) throw invalid(path, expected, v);
    return v as T;
  });
}

/** A list of `item`s, `min` to `max` long. */
export function array<S extends AnySchema>(item: S, opts: { min?: number; max?: number } = {}): Schema<Output<S>[], Input<S>[]> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = opts;
  const expected = max !== Number.MAX_SAFE_INTEGER ? `a list of ${min} to ${max} entries` : min === 1 ? 'a non-empty list' : min > 1 ? `a list of at least ${min} entries` : 'a list';
  return schema(expected, (v, path) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) throw invalid(path, expected, v);
    return v.map((e, i) => item.parse(e, `${path}[${i}]`));
  });
}

/** A fixed-length list: `[a, b]`. */
export function tuple<A extends AnySchema, B extends AnySchema>(a: A, b: B): Schema<[Output<A>, Output<B>], [Input<A>, Input<B>]> {
  const expected = `a pair [${a.expected}, ${b.expected}]`;
  return schema(expected, (v, path) => {
    if (!Array.isArray(v) || v.length !== 2) throw invalid(path, expected, v);
    return [a.parse(v[0], `${path}[0]`), b.parse(v[1], `${path}[1]`)];
  });
}

/** May be absent; absent (undefined or nil) parses to undefined. */
export function optional<Out, In>(inner: Schema<Out, In>): OptionalSchema<Out, In> {
  return {
    optional: true,
    expected: inner.expected,
    parse: (v, path) => (v === undefined || v === null ? undefined : inner.parse(v, path)),
  };
}

/**
 * A map with exactly these fields: a missing required field, a wrong one, or a field not in the
 * shape is a BadRequest. Absent optional fields are left out of the result.
 */
export function object<S extends Shape>(shape: S): ObjectSchema<S> {
  const names = Object.keys(shape);
  const expected = names.length ? `a map of ${names.join(', ')}` : 'an empty map';
  return {
    shape,
    expected,
    parse(v, path) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw invalid(path, expected, v);
      const given = v as Record<string, unknown>;
      const extra = Object.keys(given).find((k) => !Object.hasOwn(shape, k) && given[k] !== undefined);
      if (extra !== undefined) {
        const takes = names.length ? `it takes ${names.join(', ')}` : 'it takes none';
        throw new BadRequest(`${quoted(path ? `${path}.${extra}` : extra)} is not a parameter here; ${takes}`);
      }
      const out: Record<string, unknown> = {};
      for (const name of names) {
        const field = shape[name];
        const raw = Object.hasOwn(given, name) ? given[name] : undefined;
        if ((raw === undefined || raw === null) && !('optional' in field)) {
          throw new BadRequest(`${quoted(path ? `${path}.${name}` : name)} is required: ${field.expected}`);
        }
        const value = field.parse(raw, path ? `${path}.${name}` : name);
        if (value !== undefined) out[name] = value;
      }
      return out as ObjectOf<S, 'out'>;
    },
  };
}

/**
 * `inner`, then a further check or normalisation. `check` gets the field's path for its messages
 * and may throw any TfnzError (e.g. InvalidTag); anything else it throws becomes a BadRequest.
 */
export function refine<Out, In, Next = Out>(
  inner: Schema<Out, In>, check: (value: Out, path: string) => Next, expected = inner.expected,
): Schema<Next, In> {
  return {
    expected,
    parse(v, path) {
      const value = inner.parse(v, path);
      try {
        return check(value, path);
      } catch (err) {
        if (err instanceof TfnzError) throw err;
        throw new BadRequest(`${quoted(path)} ${(err as Error).message}`);
      }
    },
  };
}

/** The input type is wider than what is checked first (e.g. text or bytes): accept either. */
export function either<A, B, Out>(a: Schema<A>, b: Schema<B>, to: (v: A | B) => Out): Schema<Out, A | B> {
  const expected = `${a.expected} or ${b.expected}`;
  return schema(expected, (v, path) => {
    for (const s of [a, b]) {
      try {
        return to(s.parse(v, path));
      } catch {
        // try the other
      }
    }
    throw invalid(path, expected, v);
  });
}
