/**
 * Every request and one-way message of the catalogue, sent malformed through a real Session's
 * dispatch (no Docker: nothing valid ever reaches a handler): each gets a BadRequest naming the
 * field, in a reply or an error event, and the session keeps answering.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import {
  commands, decodeFrame, encodeFrame, messages,
  type CommandName, type EventFrame, type Frame, type MessageName, type Messages, type ParamsOf, type ReplyFrame,
} from '../../lib/protocol';
import type { Shape } from '../../lib/protocol/schema';
import { Session } from '../../lib/server/session';
import type { LocationContext } from '../../lib/server/location-context';
import { DEFAULT_LIMITS } from '../../lib/server/limits';

const id = (n: number) => `valid-id-${n}`.padEnd(12, 'x');
const digest = `sha256:${'a'.repeat(64)}`;

/** One well-formed example of each request; the compiler insists on one for every command. */
const valid: { [C in CommandName]: ParamsOf<C> } = {
  open_session: { client: 'spec', user: 'someone' },
  resume_session: { session: 'some-session', lastSeq: 3 },
  close_session: {},
  spawn_container: {
    container: id(1), node: 'node', image: 'busybox', env: [['A', '1']], command: ['true'], sleep: false, tag: 'web', stdin: true,
    volumes: [['vol', '/data']], preBootFiles: [['/etc/motd', new Uint8Array([104, 105])]], imageId: digest,
    entrypoint: ['sh'], user: '1000:1000', workdir: '/app', labels: { team: 'blue' }, resources: { memoryMb: 64, cpus: 1.5 },
    capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], tmpfs: { '/run': 'size=8m' }, shmSizeMb: 16, healthcheck: { command: 'true', intervalMs: 500 }, privileged: false,
    pull: 'missing', registryAuth: { username: 'u', password: 'p' },
  },
  image_layers_missing: { id: digest, layers: [digest] },
  upload_layer: { transfer: id(2), layer: digest, size: 10, link: true },
  put_image_description: { name: 'image', id: digest, layers: [digest], config: new Uint8Array(2) },
  start_container: { container: id(1) },
  destroy_container: { container: id(1) },
  create_tunnel: { tunnel: id(3), container: id(1), port: 80, timeout: 30 },
  destroy_tunnel: { tunnel: id(3) },
  create_volume: { tag: 'data', asynchronous: false },
  destroy_volume: { volume: 'data' },
  snapshot_volume: { volume: 'data' },
  rollback_volume: { volume: 'data' },
  spawn_process: { container: id(1), process: id(4), command: 'ls', tty: true, echo: false, cols: 80, rows: 24, user: '0', workdir: '/tmp', env: [['A', '1']] },
  destroy_process: { process: id(4) },
  fetch_file: { container: id(1), path: '/etc/motd', transfer: id(5) },
  put_file: { container: id(1), path: '/etc/motd', transfer: id(5), size: 2 },
  reboot_container: { container: id(1), resetFilesystem: true },
  allow_connection: { container: id(1), from: id(6) },
  disallow_connection: { container: id(1), from: id(6) },
  publish_web: { cluster: id(7), fqdn: 'www.localhost', containers: [id(1)], rewrite: 'internal:8080', ssl: ['cert', 'key'] },
  unpublish_web: { cluster: id(7) },
  add_to_cluster: { cluster: id(7), container: id(1) },
  remove_from_cluster: { cluster: id(7), container: id(1) },
  wait_tcp: { container: id(1), port: 80, timeout: 5 },
  wait_http_200: { container: id(1), port: 80, fqdn: 'www.localhost', path: '/', timeout: 5 },
  container_logs: { container: id(1), tail: 10, since: 0 },
  follow_logs: { container: id(1), follow: id(8), tail: 10, since: 0 },
  unfollow_logs: { follow: id(8) },
  container_health: { container: id(1) },
  wait_http: { container: id(1), port: 80, fqdn: 'www.localhost', path: '/', status: 200, body: 'ok', timeout: 5 },
  watch_stats: { container: id(1), watch: id(9) },
  unwatch_stats: { watch: id(9) },
  // #19
  pull_image: { pull: id(10), node: 'n1', image: '127.0.0.1:5443/team/app:1.2', policy: 'always', registryAuth: { username: 'u', password: 'p' } },
  build_bases: { dockerfile: new Uint8Array([70, 82, 79, 77, 32, 98]), buildArgs: [['A', '1']] },
  build_image: {
    build: id(10), transfer: id(11), node: 'node', size: 10, dockerfile: new Uint8Array([70, 82, 79, 77, 32, 98]), tag: 'team/app:1',
    buildArgs: [['A', '1']], target: 'final', localImages: [['busybox', digest]],
    registryAuth: [['127.0.0.1:5443/team/base:1', { username: 'u', password: 'p' }]],
  },
  cancel_build: { build: id(10) },
  // #20
  keep_session: {},
  user_containers: { all: true },
  stop_user_container: { container: 'web' },
  remove_user_container: { container: `${id(1)}:web`, force: true },
  tunnel_link: { tunnel: id(3), conn: 1 },
  upload_relink: { transfer: id(2) },
};

const validMessage: { [M in MessageName]: Messages[M] } = {
  ack: { seq: 1 },
  tunnel_open: { tunnel: id(3), conn: 1 },
  tunnel_data: { conn: 1 },
  tunnel_ack: { conn: 1, bytes: 10 },
  tunnel_end: { conn: 1, bytes: 10 },
  tunnel_close: { conn: 1 },
  container_stdin: { container: id(1) },
  process_stdin: { process: id(4) },
  process_stdin_end: { process: id(4) },
  process_resize: { process: id(4), cols: 80, rows: 24 },
  file_data: { transfer: id(5) },
  file_ack: { transfer: id(5), bytes: 10 },
  file_cancel: { transfer: id(5) },
  image_config: { id: `sha256:${'ab'.repeat(32)}`, config: new Uint8Array([123, 125]) },
};

/** A wrong value for every field kind of the catalogue (none is a map or a fraction). */
const WRONG_VALUES: unknown[] = [{ wrong: true }, -1.5];

interface Variant {
  what: string;
  params: unknown;
  /** The field the BadRequest must name. */
  field: string;
}

/** Single faults of `sample`: each required field missing, each field of a wrong kind, one field too many, not a map. */
function malformed(shape: Shape, sample: Record<string, unknown>): Variant[] {
  const variants: Variant[] = [];
  for (const [key, field] of Object.entries(shape)) {
    if (!('optional' in field)) {
      const { [key]: _dropped, ...rest } = sample;
      variants.push({ what: `without '${key}'`, params: rest, field: key });
    }
    for (const wrong of WRONG_VALUES) variants.push({ what: `'${key}' = ${JSON.stringify(wrong)}`, params: { ...sample, [key]: wrong }, field: key });
  }
  variants.push({ what: 'an extra field', params: { ...sample, junk: 1 }, field: 'junk' });
  variants.push({ what: 'params that are text', params: 'text', field: 'params' });
  variants.push({ what: 'params that are a list', params: [1, 2], field: 'params' });
  return variants;
}

/** A socket that hands the session's frames to the spec, and the spec's frames to the session. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Frame[] = [];
  private readonly waiters = new Set<() => void>();
  send(data: Buffer): void {
    this.sent.push(decodeFrame(data));
    for (const w of this.waiters) w();
  }
  terminate(): void {}
  /** The first frame sent that matches; fails rather than hangs when none comes. */
  async next(match: (f: Frame) => boolean, what: string): Promise<Frame> {
    const found = () => this.sent.find(match);
    if (found()) return found()!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no answer within 2 s: ${what}`));
      }, 2000);
      const check = () => {
        const f = found();
        if (!f) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(f);
      };
      this.waiters.add(check);
    });
  }
}

describe('the contract: every malformed request or message gets a BadRequest naming the field', () => {
  const ws = new FakeSocket();
  /** Once armed, any use of the location's services means a handler ran: the spec fails loudly. */
  let armed = false;
  const services: Partial<LocationContext> = {
    name: 'spec',
    users: { open: true } as LocationContext['users'],
    channels: { join: () => () => undefined } as unknown as LocationContext['channels'],
    nodes: { list: () => [] } as unknown as LocationContext['nodes'],
    volumes: { list: () => [] } as unknown as LocationContext['volumes'],
    externals: { visibleTo: () => [] } as unknown as LocationContext['externals'],
    sites: { clustersOf: () => [] } as unknown as LocationContext['sites'],
    endpoints: () => [],
    forget: () => undefined,
    limits: DEFAULT_LIMITS,
    quotas: { newSession: () => undefined } as unknown as LocationContext['quotas'],
  };
  const ctx = new Proxy(services, {
    get(target, key) {
      if (armed) throw new Error(`a handler ran and used ctx.${String(key)}`);
      return target[key as keyof LocationContext];
    },
  }) as LocationContext;
  const session = new Session(ctx, ws as unknown as WebSocket, new EventEmitter() as unknown as Socket);
  let frameId = 0;

  const request = async (command: string, params: unknown): Promise<ReplyFrame> => {
    const mine = ++frameId;
    ws.emit('message', encodeFrame({ kind: 'request', id: mine, command, params }));
    return (await ws.next((f) => f.kind === 'reply' && f.id === mine, `${command} ${JSON.stringify(params)}`)) as ReplyFrame;
  };

  before(async () => {
    expect((await request('open_session', valid.open_session)).error).to.equal(undefined);
    await ws.next((f) => f.kind === 'event' && f.event === 'resource_offer', 'the resource offer');
    armed = true;
  });
  after(() => void session.end());

  it('has a well-formed example of every request and message that its schema accepts', () => {
    for (const name of Object.keys(commands) as CommandName[]) expect(() => commands[name].params.parse(valid[name], ''), name).to.not.throw();
    for (const name of Object.keys(messages) as MessageName[]) expect(() => messages[name].parse(validMessage[name], ''), name).to.not.throw();
  });

  for (const name of Object.keys(commands) as CommandName[]) {
    it(`refuses malformed ${name}`, async () => {
      for (const v of malformed(commands[name].params.shape, valid[name] as Record<string, unknown>)) {
        const reply = await request(name, v.params);
        expect(reply.error?.code, `${name} with ${v.what}`).to.equal('BAD_REQUEST');
        expect(reply.error?.message, `${name} with ${v.what}`).to.contain(`'${v.field}'`);
      }
    });
  }

  for (const name of Object.keys(messages) as MessageName[]) {
    it(`refuses malformed ${name} with an error event`, async () => {
      for (const v of malformed(messages[name].shape, validMessage[name] as Record<string, unknown>)) {
        const before = ws.sent.length;
        ws.emit('message', encodeFrame({ kind: 'request', id: 0, command: name, params: v.params }));
        const event = (await ws.next(
          (f) => ws.sent.indexOf(f) >= before && f.kind === 'event' && f.event === 'error',
          `${name} with ${v.what}`,
        )) as EventFrame;
        const { error, about } = event.params as { error: { code: string; message: string }; about: string };
        expect(about).to.equal(name);
        expect(error.code, `${name} with ${v.what}`).to.equal('BAD_REQUEST');
        expect(error.message, `${name} with ${v.what}`).to.contain(`'${v.field}'`);
      }
    });
  }

  it('still answers afterwards', async () => {
    armed = false;
    const reply = await request('close_session', {});
    expect(reply.error).to.equal(undefined);
    expect(reply.result).to.deep.equal({});
  });
});
