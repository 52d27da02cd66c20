/**
 * A protocol fuzzer for a running location: random and hostile frames for every command, message
 * and event name of the catalogue, on sockets before and after open_session. After each batch a
 * sync request must be answered in time (the location is not stalled). Used by spec/e2e/fuzz.spec.ts
 * (a few thousand frames) and `npm run fuzz` (as many as asked).
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { WebSocket } from 'ws';
import { COMMAND_NAMES, EVENT_NAMES, MESSAGE_NAMES, decodeFrame, type CommandName, type MessageName, type ReplyFrame } from '../../lib/protocol';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Every parameter name the catalogue uses, so fuzzed params reach past the first check. */
const KEYS = [
  'client', 'user', 'key', 'proof', 'session', 'lastSeq', 'container', 'node', 'image', 'imageId', 'env', 'command', 'tag', 'sleep',
  'stdin', 'volumes', 'preBootFiles', 'id', 'layers', 'layer', 'transfer', 'size', 'name', 'config', 'tunnel', 'port', 'timeout',
  'volume', 'asynchronous', 'process', 'tty', 'echo', 'cols', 'rows', 'path', 'resetFilesystem', 'from', 'cluster', 'fqdn',
  'containers', 'rewrite', 'ssl', 'seq', 'conn', 'bytes', '__proto__', 'constructor',
  'pull', 'policy', 'registryAuth', // #19
  'build', 'dockerfile', 'buildArgs', 'target', 'localImages', // #19
];

/**
 * The parameters each command and message takes, so that plausible requests (real keys, mostly
 * sensible values, now and then a hostile one) get past validation into the handlers' real work.
 */
const PARAMS: Record<CommandName | MessageName, string[]> = {
  open_session: ['client', 'user'], resume_session: ['session', 'lastSeq', 'user'], close_session: [],
  spawn_container: ['container', 'node', 'image', 'env', 'command', 'tag', 'sleep', 'stdin', 'preBootFiles'],
  image_layers_missing: ['id', 'layers'], upload_layer: ['transfer', 'layer', 'size', 'link'], put_image_description: ['id', 'layers', 'name', 'config'],
  start_container: ['container'], destroy_container: ['container'], create_tunnel: ['tunnel', 'container', 'port', 'timeout'],
  destroy_tunnel: ['tunnel'], create_volume: ['tag'], destroy_volume: ['volume'], snapshot_volume: ['volume'], rollback_volume: ['volume'],
  spawn_process: ['container', 'process', 'command', 'tty', 'cols', 'rows'], destroy_process: ['process'],
  fetch_file: ['container', 'path', 'transfer'], put_file: ['container', 'path', 'transfer', 'size'], reboot_container: ['container', 'resetFilesystem'],
  allow_connection: ['container', 'from'], disallow_connection: ['container', 'from'], publish_web: ['cluster', 'fqdn', 'containers', 'rewrite'],
  unpublish_web: ['cluster'], add_to_cluster: ['cluster', 'container'], remove_from_cluster: ['cluster', 'container'],
  wait_tcp: ['container', 'port', 'timeout'], wait_http_200: ['container', 'port', 'fqdn', 'path', 'timeout'],
  // #16
  container_logs: ['container', 'tail', 'since'], follow_logs: ['container', 'follow', 'tail', 'since'], unfollow_logs: ['follow'],
  container_health: ['container'], wait_http: ['container', 'port', 'fqdn', 'path', 'status', 'body', 'timeout'],
  watch_stats: ['container', 'watch'], unwatch_stats: ['watch'],
  // #19
  pull_image: ['pull', 'node', 'image', 'policy'],
  build_bases: ['dockerfile', 'buildArgs'], build_image: ['build', 'transfer', 'node', 'size', 'dockerfile', 'tag', 'buildArgs', 'target', 'localImages', 'registryAuth'],
  cancel_build: ['build'],
  // #20
  keep_session: [], user_containers: ['all'], stop_user_container: ['container'], remove_user_container: ['container', 'force'],
  tunnel_link: ['tunnel', 'conn'],
  upload_relink: ['transfer'],
  ack: ['seq'], tunnel_open: ['tunnel', 'conn'], tunnel_data: ['conn'], tunnel_ack: ['conn', 'bytes'], tunnel_end: ['conn', 'bytes'], tunnel_close: ['conn'],
  container_stdin: ['container'], process_stdin: ['process'], process_stdin_end: ['process'], process_resize: ['process', 'cols', 'rows'],
  file_data: ['transfer'], file_ack: ['transfer', 'bytes'], file_cancel: ['transfer'],
  image_config: ['id', 'config'],
};

const DIGEST = `sha256:${'0f'.repeat(32)}`;

/** A sensible value for a parameter, aimed at the real objects in `known`. */
function plausible(key: string, known: string[]): fc.Arbitrary<unknown> {
  const ids = fc.constantFrom(...known, 'fuzzfuzz01', 'fuzzfuzz02');
  switch (key) {
    case 'container': case 'from': case 'process': case 'transfer': case 'tunnel': case 'cluster': case 'volume': case 'session': return ids;
    case 'node': return fc.constantFrom(...known);
    case 'image': return fc.constantFrom('busybox', 'nginx', 'no-such-image');
    case 'policy': return fc.constantFrom('always', 'missing', 'never');
    case 'pull': return fc.constantFrom('fuzzpull01', 'fuzzpull02');
    case 'command': return fc.constantFrom('echo hi', 'cat', 'yes | head -c 200000', ['sleep', '5'], ['sh', '-c', 'exit 3']);
    case 'path': return fc.constantFrom('/etc/hostname', '/tmp/fuzz', '/', '/proc/self/status', '/dev/zero', '/tmp/../etc/passwd');
    case 'size': case 'bytes': case 'seq': case 'lastSeq': case 'conn': return fc.integer({ min: 0, max: 2 * 1024 * 1024 });
    case 'port': return fc.constantFrom(80, 22, 1, 65535);
    case 'timeout': return fc.integer({ min: 1, max: 3 });
    case 'cols': case 'rows': return fc.integer({ min: 1, max: 300 });
    case 'layers': return fc.constant([DIGEST]);
    case 'id': case 'layer': return fc.constant(DIGEST);
    case 'fqdn': return fc.constantFrom('fuzz.localhost', 'a.localhost');
    case 'containers': return fc.array(ids, { maxLength: 3 });
    case 'preBootFiles': return fc.constant([['/tmp/pre', 'x']]);
    case 'env': return fc.constant([['A', 'b']]);
    case 'config': return fc.uint8Array({ maxLength: 64 });
    case 'tty': case 'sleep': case 'stdin': case 'resetFilesystem': case 'all': case 'force': return fc.boolean();
    default: return fc.string({ maxLength: 12 });
  }
}
const NUMBERS = [0, 1, -1, 80, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 52, 2 ** 53, -(2 ** 53), 1.5, NaN, Infinity, -Infinity];

export interface FuzzOptions {
  /** Stop after this many fuzzed frames … */
  frames: number;
  /** … or after this long, whichever comes first. */
  timeMs: number;
  seed: number;
  /** Real names to mix in (images, paths), so some requests do real work. */
  known?: string[];
  /** A node of the location: each socket with a session gets a real container there to aim at. */
  node?: string;
  /** Longest a sync request may wait for its reply before the location counts as stalled. */
  syncTimeoutMs?: number;
}

export interface FuzzReport {
  frames: number;
  sockets: number;
  /** Sockets on which a session was opened before fuzzing. */
  opened: number;
  /** Close codes the location used, with how often. */
  closes: Record<string, number>;
  /** Error codes in replies and error events, with how often. */
  codes: Record<string, number>;
  /** Messages of untyped errors (code TFNZ_ERROR): failures nobody classified. */
  untyped: string[];
  /** Batches whose sync request got no answer in time. */
  stalls: number;
}

function value(known: string[]): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.constantFrom(...known, DIGEST, 'busybox', '/etc/hostname', '/tmp/fuzz', '../../etc/passwd', 'fuzzfuzz01', 'a.localhost', ''),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(...NUMBERS),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 512 }),
    fc.string({ minLength: 2000, maxLength: 20_000 }),
  );
  return fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 4 })),
  })).v;
}

/** One hostile frame as bytes. */
export function frameArbitrary(known: string[]): fc.Arbitrary<Uint8Array> {
  const names = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...COMMAND_NAMES, ...MESSAGE_NAMES) },
    { weight: 1, arbitrary: fc.constantFrom(...EVENT_NAMES, 'inject_fault', '__proto__', 'constructor', 'hasOwnProperty') },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  );
  const params = fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), value(known), { maxKeys: 8 }) }, { weight: 1, arbitrary: value(known) });
  const id = fc.oneof(fc.constant(0), fc.nat(1_000_000), fc.constantFrom(-1, 2 ** 53, 1.5, NaN), fc.string({ maxLength: 5 }));
  const bulk = fc.option(fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 4096 }) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }), { nil: undefined });
  const envelope = fc.tuple(fc.oneof(fc.constant(0), fc.constantFrom(1, 2, 3, -1, 'x')), id, names, params, bulk)
    .map(([type, i, name, p, b]) => packr.pack(b === undefined ? [type, i, name, p] : [type, i, name, p, b]));
  // Commands get ids (a reply each), messages id 0; sometimes the other way round.
  // Real keys, mostly sensible values, one in five hostile.
  const shaped = fc.constantFrom(...(Object.keys(PARAMS) as (keyof typeof PARAMS)[])).chain((name) =>
    fc.tuple(fc.constant(name as string), fc.record(Object.fromEntries(PARAMS[name].map((k) => [k, fc.oneof({ weight: 4, arbitrary: plausible(k, known) }, { weight: 1, arbitrary: value(known) })]))), bulk, fc.nat(1_000_000)));
  const request = fc.oneof({ weight: 1, arbitrary: fc.tuple(names, params, bulk, fc.nat(1_000_000)) }, { weight: 2, arbitrary: shaped }).map(([name, p, b, i]) => {
    const frameId = (MESSAGE_NAMES as string[]).includes(name) === (i % 7 !== 0) ? 0 : i + 1;
    return packr.pack(b === undefined ? [0, frameId, name, p] : [0, frameId, name, p, b]);
  });
  const nested = fc.integer({ min: 10, max: 200_000 }).map((depth) => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]));
  const wide = fc.integer({ min: 1, max: 200_000 }).map((count) => {
    const head = Buffer.from([0x94, 0x00, 0x07, 0xa1, 0x78, 0xdd, 0, 0, 0, 0]);
    head.writeUInt32BE(count, head.length - 4);
    return Buffer.concat([head, Buffer.alloc(count, 0x80)]);
  });
  return fc.oneof(
    { weight: 12, arbitrary: request },
    { weight: 2, arbitrary: envelope },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }).map((v) => packr.pack(v)) },
    { weight: 1, arbitrary: nested },
    { weight: 1, arbitrary: wide },
  );
}

/** Run the fuzzer against the location at `url`; resolves with what it saw. */
export async function fuzz(url: string, opts: FuzzOptions): Promise<FuzzReport> {
  const report: FuzzReport = { frames: 0, sockets: 0, opened: 0, closes: {}, codes: {}, untyped: [], stalls: 0 };
  const started = Date.now();
  const BATCH = 25;
  let batch = 0;
  while (report.frames < opts.frames && Date.now() - started < opts.timeMs) {
    const socket = await FuzzSocket.connect(url, report);
    report.sockets++;
    // Every other socket opens a session first: hostile frames before and after open_session; with
    // a session, a real container (and its id among the values), so requests reach real work.
    const known = [...(opts.known ?? []), ...(opts.node ? [opts.node] : [])];
    const opened = report.sockets % 2 === 0 && (await socket.request([0, 1, 'open_session', { client: 'fuzz', user: 'fuzz' }], opts.syncTimeoutMs));
    if (opened) {
      report.opened++;
      const container = `fuzzctr${report.sockets}x${opts.seed}`;
      if (opts.node && (await socket.request([0, 2, 'spawn_container', { container, node: opts.node, image: 'busybox', command: ['sleep', '600'] }], 60_000))) known.push(container);
    }
    const frames = frameArbitrary(known);
    // A few batches per socket, until the location closes it.
    for (let i = 0; i < 8 && socket.open && report.frames < opts.frames; i++) {
      for (const bytes of fc.sample(frames, { numRuns: BATCH, seed: opts.seed + batch++ })) {
        if (!socket.open) break;
        socket.send(bytes);
        report.frames++;
      }
      if (socket.open && !(await socket.request([0, 999_999_999, 'fuzz_sync', {}], opts.syncTimeoutMs)) && socket.open) report.stalls++;
    }
    // End the session (and its containers) rather than leave it waiting for a resume.
    if (opened && socket.open) await socket.request([0, 999_999_998, 'close_session', {}], 60_000);
    await socket.close();
  }
  return report;
}

class FuzzSocket {
  private readonly waiting = new Map<number, () => void>();
  private closed: Promise<void>;

  private constructor(private readonly ws: WebSocket, private readonly report: FuzzReport) {
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => this.onMessage(data));
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => {
      report.closes[code] = (report.closes[code] ?? 0) + 1;
      for (const wake of this.waiting.values()) wake();
      resolve();
    }));
  }

  static async connect(url: string, report: FuzzReport): Promise<FuzzSocket> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new FuzzSocket(ws, report);
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** Send a request; true once its reply came, false on a close or after `timeoutMs`. */
  request(frame: unknown[], timeoutMs = 10_000): Promise<boolean> {
    const id = frame[1] as number;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (answered: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        this.answered.delete(id);
        resolve(answered);
      };
      this.waiting.set(id, () => done(false));
      this.answered.set(id, () => done(true));
      this.ws.send(packr.pack(frame));
    });
  }

  private readonly answered = new Map<number, () => void>();

  private onMessage(data: Buffer): void {
    const frame = decodeFrame(data);
    const error = frame.kind === 'reply' ? frame.error : frame.kind === 'event' && frame.event === 'error' ? (frame.params as { error: { code: string; message: string } }).error : undefined;
    if (error) {
      this.report.codes[error.code] = (this.report.codes[error.code] ?? 0) + 1;
      if (error.code === 'TFNZ_ERROR' && this.report.untyped.length < 50) this.report.untyped.push(error.message.slice(0, 200));
    }
    if (frame.kind === 'reply') {
      const wake = this.answered.get((frame as ReplyFrame).id);
      this.answered.delete((frame as ReplyFrame).id);
      wake?.();
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return;
    this.ws.terminate();
    await this.closed;
  }
}
