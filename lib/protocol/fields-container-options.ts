/**
 * #16: the container options of spawn_container and the process options of spawn_process as
 * catalogue fields, checked before any handler runs. The location's own policy (privileged) and
 * the defaults are applied by lib/server/container-options.ts.
 */
import { BadRequest } from './errors';
import { array, boolean, int, optional, refine, string, type Schema } from './schema';

/** Linux capabilities Docker knows (without the CAP_ prefix), and ALL. */
export const CAPABILITIES = new Set([
  'ALL', 'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN',
  'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST',
  'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYSLOG', 'SYS_ADMIN', 'SYS_BOOT',
  'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'WAKE_ALARM',
]);
/** Docker refuses less memory than this. */
export const MIN_MEMORY_MB = 6;
const MAX_MS = 3_600_000;
const USER = /^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const TMPFS_OPTIONS = /^[A-Za-z0-9=,._-]*$/;

export const user = () => string({ pattern: USER, expected: 'a user name or uid, optionally :group or :gid, e.g. 1000:1000' });
export const absoluteDir = () => string({ pattern: /^\/[^\0]{0,4095}$/, expected: 'an absolute path, e.g. /app' });

const capability = () =>
  refine(string(), (raw) => {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!CAPABILITIES.has(cap)) throw new Error(`'${raw}' is not a Linux capability (e.g. NET_ADMIN, SYS_PTRACE, ALL)`);
    return cap;
  }, 'a Linux capability such as NET_ADMIN');

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** A map whose entries `entry` checks (it throws BadRequest naming the field). */
function mapOf<Out, In>(expected: string, entry: (key: string, value: unknown, path: string) => Out): Schema<Record<string, Out>, Record<string, In>> {
  return {
    expected,
    parse(v, path) {
      if (!isMap(v)) throw new BadRequest(`'${path}' must be ${expected}`);
      return Object.fromEntries(Object.entries(v).filter(([, e]) => e !== undefined).map(([k, e]) => [k, entry(k, e, path)]));
    },
  };
}

/** A map with only `fields`, each optional; each field's schema checks its value. */
function fieldsOf<T extends object>(fields: { [K in keyof T]-?: Schema<T[K] | undefined, T[K] | undefined> }, required: (keyof T)[] = []): Schema<T> {
  const names = Object.keys(fields);
  const expected = `a map of ${names.join(', ')}`;
  return {
    expected,
    parse(v, path) {
      if (!isMap(v)) throw new BadRequest(`'${path}' must be ${expected}`);
      const extra = Object.keys(v).find((k) => !names.includes(k) && v[k] !== undefined);
      if (extra) throw new BadRequest(`'${path}' takes ${names.join(', ')}, not '${extra}'`);
      for (const k of required) if (v[k as string] === undefined || v[k as string] === null) throw new BadRequest(`'${path}.${String(k)}' is required`);
      const out: Record<string, unknown> = {};
      for (const k of names) {
        const value = (fields as Record<string, Schema<unknown>>)[k].parse(v[k] ?? undefined, `${path}.${k}`);
        if (value !== undefined) out[k] = value;
      }
      return out as T;
    },
  };
}

/** A number (fractions allowed) from `min` to `max`. */
const fraction = (min: number, max: number): Schema<number> => ({
  expected: `a number from ${min} to ${max}`,
  parse(v, path) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new BadRequest(`'${path}' must be a number from ${min} to ${max} (got ${String(v)})`);
    return v;
  },
});

const labels = () =>
  mapOf<string, string>('a map of label names to text', (k, value, path) => {
    if (!LABEL_KEY.test(k) || typeof value !== 'string') throw new BadRequest(`'${path}': label '${k}' must be a name of letters, digits and . _ / - with a text value`);
    if (k.startsWith('tfnz.')) throw new BadRequest(`'${path}': label '${k}': names starting with 'tfnz.' belong to tfnz`);
    return value;
  });

const tmpfs = () =>
  mapOf<string, string>("a map of mount points to mount options, e.g. { '/run': 'size=64m' }", (k, value, path) => {
    if (!k.startsWith('/') || k.includes('\0')) throw new BadRequest(`'${path}': a tmpfs mount point must be an absolute path (got '${k}')`);
    if (typeof value !== 'string' || !TMPFS_OPTIONS.test(value)) throw new BadRequest(`'${path}': options for '${k}' must be mount options like 'size=64m,mode=1777' (got '${String(value)}')`);
    return value;
  });

export interface ResourcesWire {
  memoryMb?: number;
  cpus?: number;
}

export interface HealthcheckWire {
  /** A string runs through the shell; a list is argv. */
  command: string | string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
}

const healthCommand: Schema<string | string[]> = {
  expected: 'a shell command line, or a non-empty list of strings',
  parse(v, path) {
    if (typeof v === 'string' && v.trim() !== '') return v;
    return array(string(), { min: 1 }).parse(v, path);
  },
};

/** The fields spawn_container takes for #16, spread into its shape. */
export const containerOptionFields = () => ({
  entrypoint: optional(array(string(), { min: 1 })),
  user: optional(user()),
  workdir: optional(absoluteDir()),
  labels: optional(labels()),
  resources: optional(fieldsOf<ResourcesWire>({ memoryMb: optional(int(MIN_MEMORY_MB, 1024 * 1024)), cpus: optional(fraction(0.01, 1024)) })),
  capAdd: optional(array(capability(), { min: 1 })),
  capDrop: optional(array(capability(), { min: 1 })),
  tmpfs: optional(tmpfs()),
  shmSizeMb: optional(int(1, 1024 * 1024)),
  healthcheck: optional(fieldsOf<HealthcheckWire>({
    command: healthCommand, intervalMs: optional(int(1, MAX_MS)), timeoutMs: optional(int(1, MAX_MS)),
    retries: optional(int(1, 1000)), startPeriodMs: optional(int(0, MAX_MS)),
  }, ['command'])),
  privileged: optional(boolean()),
});
