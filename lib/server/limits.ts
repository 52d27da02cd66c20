/**
 * Every limit a location enforces, in one table: its default, its `tfnz location` flag and what it
 * bounds. LocationServerOptions.limits, the CLI flags and the README table all come from here, so a
 * limit cannot exist without a documented default and a way to raise it.
 */

export interface Limits {
  /** Largest frame before open_session/resume_session succeeded (checked before decoding). */
  preAuthFrameBytes: number;
  /** Largest frame of an open session (preBootFiles, put_image_description configs, file chunks). */
  frameBytes: number;
  /** How long a socket may stay without open_session/resume_session before it is closed. */
  openDeadlineMs: number;
  /** Sockets, over all addresses, that have not opened a session yet. */
  unauthenticatedSockets: number;
  /** Sockets from one remote address (open or not). */
  connectionsPerAddress: number;
  /** Bytes queued to a client that does not read; past it the socket is dropped (the session may resume). */
  queuedBytes: number;
  /** Unacknowledged bytes a session keeps to replay after a resume. */
  replayBytes: number;
  /** Live or detached sessions per user; at the cap the oldest detached one ends, else new ones are refused. */
  sessionsPerUser: number;
  /** Containers per user, over all their sessions. */
  containersPerUser: number;
  /** Persistent volumes per user. */
  volumesPerUser: number;
  /** Tunnels per user, over all their sessions. */
  tunnelsPerUser: number;
  /** Host names a user publishes on the front door. */
  namesPerUser: number;
  /** Image layer bytes a user may upload while the location runs. */
  uploadBytesPerUser: number;
  /** Largest `size` of one put_file or upload_layer. */
  transferBytes: number;
  /** Processes (and threads) in one container. */
  containerPids: number;
  /** Memory of one container (the same again as swap). */
  containerMemoryBytes: number;
  /** CPUs one container may use. */
  containerCpus: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** One limit of the location: its option key, its `tfnz location` flag, default, unit and meaning. */
export interface LimitInfo {
  /** The key in `LocationServerOptions.limits`. */
  key: keyof Limits;
  /** The `tfnz location --FLAG`. */
  flag: string;
  /** Its value unless configured. */
  default: number;
  /** What the number counts. */
  unit: 'bytes' | 'ms' | 'count' | 'cpus';
  /** What it limits, in words. */
  what: string;
}

/** The table: keep it in the order the README shows it. */
export const LIMITS: readonly LimitInfo[] = [
  { key: 'preAuthFrameBytes', flag: 'pre-auth-frame-bytes', default: 64 * KiB, unit: 'bytes', what: 'largest frame before the session is open (checked before decoding)' },
  { key: 'frameBytes', flag: 'frame-bytes', default: 32 * MiB, unit: 'bytes', what: 'largest frame of an open session' },
  { key: 'openDeadlineMs', flag: 'open-deadline-ms', default: 10_000, unit: 'ms', what: 'time a socket has to open or resume a session' },
  { key: 'unauthenticatedSockets', flag: 'unauthenticated-sockets', default: 128, unit: 'count', what: 'sockets that have not opened a session yet, in all' },
  { key: 'connectionsPerAddress', flag: 'connections-per-address', default: 64, unit: 'count', what: 'sockets from one remote address, before and after their session opens (more are refused, close code 1013); counted apart, as many tunnel data connections of its sessions (more ride the session\'s WebSocket)' },
  { key: 'queuedBytes', flag: 'queued-bytes', default: 128 * MiB, unit: 'bytes', what: 'bytes queued to a client that does not read; then the socket is dropped (the session may resume)' },
  { key: 'replayBytes', flag: 'replay-bytes', default: 64 * MiB, unit: 'bytes', what: 'unacknowledged bytes a session keeps for a resume' },
  { key: 'sessionsPerUser', flag: 'sessions-per-user', default: 16, unit: 'count', what: 'live or detached sessions per user (the oldest detached one gives way)' },
  { key: 'containersPerUser', flag: 'containers-per-user', default: 64, unit: 'count', what: 'containers per user' },
  { key: 'volumesPerUser', flag: 'volumes-per-user', default: 64, unit: 'count', what: 'persistent volumes per user' },
  { key: 'tunnelsPerUser', flag: 'tunnels-per-user', default: 256, unit: 'count', what: 'tunnels per user' },
  { key: 'namesPerUser', flag: 'names-per-user', default: 32, unit: 'count', what: 'host names per user on the front door' },
  { key: 'uploadBytesPerUser', flag: 'upload-bytes-per-user', default: 32 * GiB, unit: 'bytes', what: 'image layer bytes one user may upload while the location runs' },
  { key: 'transferBytes', flag: 'transfer-bytes', default: 16 * GiB, unit: 'bytes', what: 'largest put_file or upload_layer' },
  { key: 'containerPids', flag: 'container-pids', default: 512, unit: 'count', what: 'processes and threads in one container' },
  { key: 'containerMemoryBytes', flag: 'container-memory-bytes', default: 1 * GiB, unit: 'bytes', what: 'memory of one container' },
  { key: 'containerCpus', flag: 'container-cpus', default: 1, unit: 'cpus', what: 'CPUs one container may use' },
];

/** Every limit at its default. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.fromEntries(LIMITS.map((l) => [l.key, l.default])) as unknown as Limits;

/** The defaults with `given` on top; a limit must be a positive number. */
export function resolveLimits(given: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof Limits, number | undefined][]) {
    if (value === undefined) continue;
    const info = LIMITS.find((l) => l.key === key);
    if (!info) throw new Error(`unknown limit '${key}'; the limits are ${LIMITS.map((l) => l.key).join(', ')}`);
    if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)) || (info.unit !== 'cpus' && !Number.isSafeInteger(value))) {
      throw new Error(`limit ${key} must be a positive ${info.unit === 'cpus' ? 'number' : 'integer'} (got ${String(value)})`);
    }
    limits[key] = value;
  }
  return limits;
}

const SUFFIX: Record<string, number> = { '': 1, k: KiB, kib: KiB, m: MiB, mib: MiB, g: GiB, gib: GiB, t: 1024 * GiB, tib: 1024 * GiB };

/** A flag's value: a number, for bytes optionally with K/M/G/T (binary, e.g. 512M, 2GiB). */
export function parseLimit(info: LimitInfo, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const scale = m && (info.unit === 'bytes' ? SUFFIX[m[2].toLowerCase()] : m[2] === '' ? 1 : undefined);
  const value = m && scale ? Math.round(Number(m[1]) * scale * (info.unit === 'cpus' ? 1000 : 1)) / (info.unit === 'cpus' ? 1000 : 1) : NaN;
  if (!(value > 0)) {
    throw new Error(`--${info.flag} wants a positive ${info.unit === 'bytes' ? 'size such as 64K, 512M or 2G' : info.unit === 'ms' ? 'number of milliseconds' : 'number'} (got '${text}')`);
  }
  return value;
}

/** A size for people: 64 KiB, 32 MiB, 1 GiB. */
export function formatLimit(info: LimitInfo, value: number): string {
  if (info.unit !== 'bytes') return info.unit === 'ms' ? `${value / 1000} s` : String(value);
  for (const [unit, scale] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) if (value >= scale && value % scale === 0) return `${value / scale} ${unit}`;
  return `${value} bytes`;
}
