/**
 * Checks for parameters that arrive from the wire. Types in the catalogue hold at compile time;
 * these hold at run time, so a hand-made or hostile frame gets a BadRequest naming the field.
 */
import { BadRequest } from './errors';

type Obj = Record<string, unknown>;

export function asObject(value: unknown, what = 'params'): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest(`${what} must be a map`);
  return value as Obj;
}

export function str(p: Obj, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new BadRequest(`'${key}' must be a non-empty string`);
  return v;
}

export function optStr(p: Obj, key: string): string | undefined {
  return p[key] === undefined || p[key] === null ? undefined : str(p, key);
}

export function int(p: Obj, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new BadRequest(`'${key}' must be an integer from ${min} to ${max}`);
  }
  return v;
}

export function port(p: Obj, key: string): number {
  return int(p, key, 1, 65535);
}

export function bool(p: Obj, key: string): boolean {
  const v = p[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new BadRequest(`'${key}' must be true or false`);
  return v;
}

export function optStrings(p: Obj, key: string): string[] | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    throw new BadRequest(`'${key}' must be a non-empty list of strings`);
  }
  return v as string[];
}

export function optPairs(p: Obj, key: string): [string, string][] | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) {
    throw new BadRequest(`'${key}' must be a list of [name, value] string pairs`);
  }
  return v as [string, string][];
}
