/**
 * The spawn options beyond image, env and command (#16): checked off the wire before anything is
 * created, so a bad value is a BadRequest naming the option and the container never exists.
 */
import { BadRequest } from '../protocol';
import { LABEL } from './location-context';
import type { ContainerOptions, ProcessOptions } from '../engines/engine';

type Params = Record<string, unknown>;

/** Linux capabilities Docker knows (without the CAP_ prefix), and ALL. */
const CAPABILITIES = new Set([
  'ALL', 'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN',
  'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST',
  'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYSLOG', 'SYS_ADMIN', 'SYS_BOOT',
  'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'WAKE_ALARM',
]);
/** Docker refuses less memory than this. */
const MIN_MEMORY_MB = 6;
const USER = /^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const TMPFS_OPTIONS = /^[A-Za-z0-9=,._-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const given = (p: Params, key: string) => p[key] !== undefined && p[key] !== null;

function record(p: Params, key: string): Record<string, unknown> | undefined {
  if (!given(p, key)) return undefined;
  const v = p[key];
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new BadRequest(`'${key}' must be a map`);
  return v as Record<string, unknown>;
}

function number(v: unknown, what: string, min: number, max: number, integer = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new BadRequest(`${what} must be a ${integer ? 'whole ' : ''}number from ${min} to ${max} (got ${String(v)})`);
  }
  return v;
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s !== '')) throw new BadRequest(`${what} must be a non-empty list of strings`);
  return v as string[];
}

function absolutePath(v: unknown, what: string): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.includes('\0') || v.length > 4096) throw new BadRequest(`${what} must be an absolute path, e.g. /app (got '${String(v)}')`);
  return v;
}

function user(v: unknown, what: string): string {
  if (typeof v !== 'string' || !USER.test(v)) throw new BadRequest(`${what} must be a user name or uid, optionally :group or :gid, e.g. 1000:1000 (got '${String(v)}')`);
  return v;
}

function capabilities(v: unknown, what: string): string[] {
  return strings(v, what).map((raw) => {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!CAPABILITIES.has(cap)) throw new BadRequest(`${what}: '${raw}' is not a Linux capability (e.g. NET_ADMIN, SYS_PTRACE, ALL)`);
    return cap;
  });
}

/** The options of a spawn_container request; `allowPrivileged` is the location's choice. */
export function containerOptions(p: Params, allowPrivileged: boolean): ContainerOptions {
  const o: ContainerOptions = {};
  if (given(p, 'entrypoint')) o.entrypoint = strings(p.entrypoint, "'entrypoint'");
  if (given(p, 'user')) o.user = user(p.user, "'user'");
  if (given(p, 'workdir')) o.workdir = absolutePath(p.workdir, "'workdir'");
  const labels = record(p, 'labels');
  if (labels) {
    o.labels = {};
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_KEY.test(k) || typeof v !== 'string') throw new BadRequest(`label '${k}' must be a name of letters, digits and . _ / - with a string value`);
      if (k.startsWith('tfnz.') || Object.values(LABEL).includes(k as never)) throw new BadRequest(`label '${k}': names starting with 'tfnz.' belong to tfnz`);
      o.labels[k] = v;
    }
  }
  const resources = record(p, 'resources');
  if (resources) {
    if (resources.memoryMb !== undefined) o.memoryMb = number(resources.memoryMb, 'resources.memoryMb', MIN_MEMORY_MB, 1024 * 1024);
    if (resources.cpus !== undefined) o.cpus = number(resources.cpus, 'resources.cpus', 0.01, 1024, false);
  }
  if (given(p, 'capAdd')) o.capAdd = capabilities(p.capAdd, "'capAdd'");
  if (given(p, 'capDrop')) o.capDrop = capabilities(p.capDrop, "'capDrop'");
  const tmpfs = record(p, 'tmpfs');
  if (tmpfs) {
    o.tmpfs = {};
    for (const [path, options] of Object.entries(tmpfs)) {
      absolutePath(path, 'a tmpfs mount point');
      if (typeof options !== 'string' || !TMPFS_OPTIONS.test(options)) throw new BadRequest(`tmpfs options for '${path}' must be mount options like 'size=64m,mode=1777' (got '${String(options)}')`);
      o.tmpfs[path] = options;
    }
  }
  if (given(p, 'shmSizeMb')) o.shmSizeMb = number(p.shmSizeMb, "'shmSizeMb'", 1, 1024 * 1024);
  const hc = record(p, 'healthcheck');
  if (hc) {
    const command = typeof hc.command === 'string' && hc.command.trim() !== '' ? ['CMD-SHELL', hc.command] : ['CMD', ...strings(hc.command, 'healthcheck.command')];
    o.healthcheck = {
      command,
      intervalMs: hc.intervalMs === undefined ? 1000 : number(hc.intervalMs, 'healthcheck.intervalMs', 1, 3_600_000),
      timeoutMs: hc.timeoutMs === undefined ? 5000 : number(hc.timeoutMs, 'healthcheck.timeoutMs', 1, 3_600_000),
      retries: hc.retries === undefined ? 3 : number(hc.retries, 'healthcheck.retries', 1, 1000),
      startPeriodMs: hc.startPeriodMs === undefined ? 0 : number(hc.startPeriodMs, 'healthcheck.startPeriodMs', 0, 3_600_000),
    };
  }
  if (given(p, 'privileged')) {
    if (typeof p.privileged !== 'boolean') throw new BadRequest("'privileged' must be true or false");
    if (p.privileged && !allowPrivileged) throw new BadRequest('this location does not allow privileged containers (its operator can start it with --allow-privileged)');
    o.privileged = p.privileged;
  }
  return o;
}

/** The options of a spawn_process request. */
export function processOptions(p: Params): ProcessOptions {
  const o: ProcessOptions = {};
  if (given(p, 'user')) o.user = user(p.user, "'user'");
  if (given(p, 'workdir')) o.workdir = absolutePath(p.workdir, "'workdir'");
  if (given(p, 'env')) {
    const env = p.env;
    if (!Array.isArray(env) || !env.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && ENV_NAME.test(e[0]) && typeof e[1] === 'string')) {
      throw new BadRequest(`'env' must be a list of [name, value] string pairs, names matching ${ENV_NAME.source}`);
    }
    o.env = env as [string, string][];
  }
  return o;
}
