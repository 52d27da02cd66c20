/**
 * What the location does for each request and one-way message. Parameters are checked here, at
 * run time, because they come off the wire; the catalogue's types keep both ends in step.
 */
import { validTag } from '../protocol/tags';
import { userIdOf, verifyProof } from '../protocol/identity';
import { SessionExpired, Unauthorized } from '../protocol/errors';
import type { Mount } from '../engines/engine';
import { posix } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  BadRequest, ContainerNotFound, ContainerNotRunning, ProcessNotFound,
  type CommandName, type MessageName, type ResultOf,
} from '../protocol';
import { bool, int, optPairs, optStr, optStrings, port, str } from '../protocol/validate';
import { ManagedContainer } from './managed-container';
import { LABEL } from './location-context';
import type { Session } from './session';
import type { ManagedProcess } from './managed-process';
import { FileReader, FileWriter } from './file-transfer';
import { waitHttp200, waitTcp } from './wait-for';
import { connectionGrants } from './connection-grants';
import { checkDigest, checkLayers } from './layer-cache';
import { resolveImage } from './image-resolver';
import { logCommandHandlers } from './handlers-logs';
import { waitCommandHandlers } from './handlers-waits';
import { statsCommandHandlers } from './handlers-stats';
import { containerOptions, processOptions } from './container-options';

type Params = Record<string, unknown>;
type CommandHandlers = { [C in CommandName]: (s: Session, p: Params) => Promise<ResultOf<C>> };
type MessageHandlers = { [M in MessageName]: (s: Session, p: Params, bulk: Uint8Array) => void };

const ID = /^[A-Za-z0-9_-]{8,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_TUNNEL_TIMEOUT_S = 600;
const MAX_WAIT_S = 3600;

function newId(p: Params, key: string): string {
  const id = str(p, key);
  if (!ID.test(id)) throw new BadRequest(`'${key}' must be 8-64 characters of A-Z a-z 0-9 _ -`);
  return id;
}

/** An absolute path inside the container, normalised; `..` cannot climb above its root. */
function filePath(p: Params, key: string): string {
  const raw = str(p, key);
  if (!raw.startsWith('/') || raw.includes('\0')) throw new BadRequest(`'${key}' must be an absolute path inside the container, e.g. /etc/motd (got '${raw}')`);
  const path = posix.normalize(raw);
  if (path === '/' || path.endsWith('/')) throw new BadRequest(`'${key}' must name a file, not a folder (got '${raw}')`);
  return path;
}

/** [path, bytes] pairs; strings are taken as UTF-8. */
function preBootFiles(p: Params): [string, Uint8Array][] {
  const v = p.preBootFiles;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadRequest("'preBootFiles' must be a list of [path, data] pairs");
  return v.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !(pair[1] instanceof Uint8Array || typeof pair[1] === 'string')) {
      throw new BadRequest(`'preBootFiles[${i}]' must be a [path, data] pair with string or binary data`);
    }
    const data = typeof pair[1] === 'string' ? Buffer.from(pair[1]) : pair[1];
    return [filePath({ path: pair[0] }, 'path'), data];
  });
}

function ownProcess(s: Session, id: string): ManagedProcess {
  for (const c of s.containers.values()) {
    const p = c.processes.get(id);
    if (p) return p;
  }
  throw new ProcessNotFound(`no process '${id}' in this session (it may have ended)`);
}

function ownTransfer<T>(s: Session, id: string, kind: new (...args: never[]) => T): T | undefined {
  for (const c of s.containers.values()) {
    const t = c.transfers.get(id);
    if (t instanceof kind) return t;
  }
  return undefined; // finished or cancelled already: late data and acks are dropped
}

/** Resolve `volumes` ([key, mount point] pairs) to engine mounts on `node`. */
function volumeMounts(s: Session, p: Params, node: string): Mount[] | undefined {
  const pairs = optPairs(p, 'volumes');
  if (!pairs) return undefined;
  const targets: string[] = [];
  return pairs.map(([key, target]) => {
    const v = s.ctx.volumes.resolve(s.user, key);
    if (v.node.info.id !== node) {
      throw new BadRequest(`volume ${v.tag ?? v.id} lives on node ${v.node.info.name}; spawn the container there (loc.rankedNodes().find(n => n.id === '${v.node.info.id}'))`);
    }
    const normal = posix.normalize(target);
    if (!posix.isAbsolute(normal) || normal === '/') throw new BadRequest(`mount point '${target}' must be an absolute path below /`);
    const clash = targets.find((t) => t === normal || t.startsWith(`${normal}/`) || normal.startsWith(`${t}/`));
    if (clash) throw new BadRequest(`mount points '${clash}' and '${normal}' overlap; mount volumes side by side`);
    targets.push(normal);
    return { volume: s.ctx.volumes.engineName(v), target: normal };
  });
}

/** The session's user: proven by a signed challenge, or on an open location a name taken on trust. */
function identify(s: Session, p: Params): string {
  const key = optStr(p, 'key');
  if (key === undefined) {
    if (s.ctx.users.open) return optStr(p, 'user') ?? 'local';
    throw new Unauthorized('this location admits only authorised users: create an account with `tfnz account create <location>` and ask the location\'s operator to run `tfnz authorize <the key it printed>`');
  }
  const proof = p.proof;
  if (!(proof instanceof Uint8Array) || !verifyProof(key, s.nonce, proof)) {
    throw new Unauthorized('the key\'s proof did not verify against this session\'s challenge; is the account file damaged?');
  }
  if (!s.ctx.users.admits(key)) {
    throw new Unauthorized(`this location does not know your key yet; ask its operator to run: tfnz authorize ${key}`);
  }
  return userIdOf(key);
}

/**
 * A container this session may connect: its own, or an external container (a running tagged
 * container of another session of the same user). Never another user's.
 */
function connectable(s: Session, id: string, role: string): ManagedContainer {
  const own = s.containers.get(id);
  const external = own ? undefined : s.ctx.externals.find(s.user, s.id, id);
  const c = own ?? (external ? s.ctx.containers.get(id) : undefined);
  if (!c) throw new ContainerNotFound(`${role} '${id}' is neither a container of this session nor an external container of yours`);
  return c;
}

/** The TLS context for `ssl` ([certificate PEM, key PEM]), checked against the key and the name. */
function siteCertificate(p: Params, fqdn: string): SecureContext | undefined {
  const ssl = p.ssl;
  if (ssl === undefined || ssl === null) return undefined;
  if (!Array.isArray(ssl) || ssl.length !== 2 || !ssl.every((v) => typeof v === 'string')) {
    throw new BadRequest("'ssl' must be [certificate PEM, private key PEM], both as text");
  }
  const [cert, key] = ssl as [string, string];
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new BadRequest(`the ssl certificate is not a PEM certificate: ${(err as Error).message}`);
  }
  if (!certificate.checkHost(fqdn)) throw new BadRequest(`the ssl certificate is for ${certificate.subjectAltName ?? certificate.subject}, not ${fqdn}`);
  try {
    return createSecureContext({ cert, key });
  } catch (err) {
    throw new BadRequest(`the ssl certificate and key do not make a TLS identity: ${(err as Error).message}`);
  }
}

function ownContainer(s: Session, id: string): ManagedContainer {
  const c = s.containers.get(id);
  if (!c) throw new ContainerNotFound(`no container '${id}' in this session`);
  return c;
}

export const commandHandlers: CommandHandlers = {
  async open_session(s, p) {
    if (s.opened) throw new BadRequest('the session is already open');
    str(p, 'client');
    s.user = identify(s, p);
    s.opened = true;
    s.joinUserChannel();
    // The offer goes out right after the reply, so the client folds it into a fresh state.
    setImmediate(() =>
      s.emit('resource_offer', {
        session: s.id, user: s.user, location: s.ctx.name, nodes: s.ctx.nodes.list(),
        containers: [], volumes: s.ctx.volumes.list(s.user), externals: s.ctx.externals.visibleTo(s.user, s.id), endpoints: s.ctx.endpoints(),
      }),
    );
    return { session: s.id, user: s.user, location: s.ctx.name };
  },

  async resume_session(s, p) {
    if (s.opened) throw new BadRequest('resume_session must be the first request on a socket');
    const user = identify(s, p);
    const target = s.ctx.findSession(str(p, 'session'));
    if (!target || target.ended || !target.opened || target.user !== user) {
      throw new SessionExpired('the location no longer has this session (it was away longer than the grace period, or the location restarted); connect again');
    }
    s.handOver();
    return { received: target.resume(s.socketPair.ws, s.socketPair.socket, int(p, 'lastSeq', 0)) };
  },

  async close_session(s) {
    await s.end();
    return {};
  },

  async spawn_container(s, p) {
    const id = newId(p, 'container');
    if (s.ctx.containers.has(id)) throw new BadRequest(`container id '${id}' is already in use; generate a fresh one`);
    const node = s.ctx.nodes.get(str(p, 'node'));
    const image = str(p, 'image');
    const env = optPairs(p, 'env') ?? [];
    const badName = env.find(([name]) => !ENV_NAME.test(name));
    if (badName) throw new BadRequest(`environment variable name '${badName[0]}' must match ${ENV_NAME.source}`);
    const command = optStrings(p, 'command');
    const rawTag = optStr(p, 'tag');
    const tag = rawTag === undefined ? undefined : validTag(rawTag);
    const mounts = volumeMounts(s, p, node.info.id);
    const labels: Record<string, string> = {
      ...s.ctx.labels, [LABEL.location]: s.ctx.name, [LABEL.session]: s.id, [LABEL.user]: s.user, [LABEL.container]: id,
    };
    if (tag) labels[LABEL.tag] = tag;
    const imageIdParam = p.imageId === undefined || p.imageId === null ? undefined : checkDigest(p.imageId, "'imageId'");
    const files = preBootFiles(p);
    const options = containerOptions(p, !!s.ctx.allowPrivileged); // #16
    // The image as this node will run it: its own, or the user's from the location's cache.
    const ref = await resolveImage(s.ctx.images, node.engine, s.user, image, imageIdParam);
    const spec = { name: `tfnz-${id}`, image: ref, env, command, sleep: bool(p, 'sleep'), stdin: bool(p, 'stdin'), labels, mounts, options };
    // Last check before anything is made: the tag is unique among all the user's containers.
    if (tag) s.ctx.externals.reserve(s.user, s.id, id, tag);
    const container: ManagedContainer = new ManagedContainer(id, node, spec, tag, {
      status: (params) => {
        if (params.status === 'destroyed' || params.status === 'exited') void connectionGrants(s.ctx).containerDown(id, params.status === 'destroyed');
        if (params.status === 'destroyed') {
          s.tunnels.destroyFor(id);
          s.ctx.sites.forgetContainer(id);
          s.ctx.externals.release(id);
        } else if (params.status === 'running' && tag) {
          s.ctx.externals.publish(id, { id, tag, node: node.info.id, privateIp: params.privateIp });
        }
        s.emit('container_status', params);
      },
      output: (stream, data) => s.emit('container_output', { container: id, stream }, data),
      beforeRunning: (ip): Promise<void> => connectionGrants(s.ctx).containerUp(container, ip),
    }, files, s.ctx.logLimits);
    s.containers.set(id, container);
    s.ctx.containers.set(id, container);
    try {
      await container.spawn();
    } catch (err) {
      s.containers.delete(id);
      s.ctx.containers.delete(id);
      s.ctx.externals.release(id);
      throw err;
    }
    return {};
  },

  async image_layers_missing(s, p) {
    const id = checkDigest(p.id, "'id'");
    return { missing: s.ctx.images.missing(checkLayers(p.layers)), configMissing: !s.ctx.images.hasConfig(id) };
  },

  async upload_layer(s, p) {
    const transfer = newId(p, 'transfer');
    const layer = checkDigest(p.layer, "'layer'");
    const size = int(p, 'size');
    if (s.uploads.has(transfer)) throw new BadRequest(`transfer id '${transfer}' is already in use`);
    const writer = new FileWriter(
      transfer, s.ctx.images.layerSink(layer, size), size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => s.uploads.delete(transfer),
    );
    s.uploads.set(transfer, writer);
    if (size === 0) setImmediate(() => writer.complete());
    return {};
  },

  async put_image_description(s, p) {
    const id = checkDigest(p.id, "'id'");
    const layers = checkLayers(p.layers);
    const name = str(p, 'name');
    if (p.config !== undefined && p.config !== null) {
      if (!(p.config instanceof Uint8Array) || p.config.length > 4 * 1024 * 1024) throw new BadRequest("'config' must be the image's config JSON as bytes (at most 4 MiB)");
      s.ctx.images.putConfig(id, p.config, layers);
    }
    s.ctx.images.putDescription(s.user, { name, id, layers });
    return {};
  },

  async create_volume(s, p) {
    return { volume: await s.ctx.volumes.create(s.user, optStr(p, 'tag')) };
  },

  async destroy_volume(s, p) {
    await s.ctx.volumes.destroy(s.user, str(p, 'volume'));
    return {};
  },

  async snapshot_volume(s, p) {
    await s.ctx.volumes.snapshot(s.user, str(p, 'volume'));
    return {};
  },

  async rollback_volume(s, p) {
    await s.ctx.volumes.rollback(s.user, str(p, 'volume'));
    return {};
  },

  async start_container(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    if (c.status !== 'running') throw new ContainerNotRunning(`container ${c.id} is ${c.status}; only a running container can be woken`);
    await c.start();
    return {};
  },

  async destroy_container(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    await c.destroy();
    // Its packet-filter rules were dropped on `destroyed`; this resolves once that is done.
    await connectionGrants(s.ctx).containerDown(c.id, true);
    s.containers.delete(c.id);
    s.ctx.containers.delete(c.id);
    return {};
  },

  async create_tunnel(s, p) {
    const tunnel = newId(p, 'tunnel');
    const c = ownContainer(s, str(p, 'container'));
    if (c.status === 'exited' || c.status === 'destroyed') {
      throw new ContainerNotRunning(`container ${c.id} is ${c.status}; tunnels go to live containers`);
    }
    const timeout = int(p, 'timeout', 1, MAX_TUNNEL_TIMEOUT_S);
    s.tunnels.create(tunnel, c, port(p, 'port'), timeout * 1000);
    return {};
  },

  async destroy_tunnel(s, p) {
    s.tunnels.destroy(str(p, 'tunnel'));
    return {};
  },

  async spawn_process(s, p) {
    const id = newId(p, 'process');
    const c = ownContainer(s, str(p, 'container'));
    const command = optStr(p, 'command');
    const tty = bool(p, 'tty');
    if (command === undefined && !tty) throw new BadRequest("'command' is needed unless 'tty' asks for a shell");
    if ([...s.containers.values()].some((other) => other.processes.has(id))) throw new BadRequest(`process id '${id}' is already in use`);
    const size = p.cols === undefined || p.cols === null ? undefined : { cols: int(p, 'cols', 1, 10_000), rows: int(p, 'rows', 1, 10_000) };
    const extra = processOptions(p); // #16
    await c.spawnProcess(id, { command, tty, echo: bool(p, 'echo'), env: extra.env ?? [], user: extra.user, workdir: extra.workdir, size }, {
      output: (stream, data) => s.emit('process_output', { process: id, stream }, data),
      exit: (params) => s.emit('process_exit', params),
    });
    return {};
  },

  async destroy_process(s, p) {
    await ownProcess(s, str(p, 'process')).destroy();
    return {};
  },

  async fetch_file(s, p) {
    const transfer = newId(p, 'transfer');
    const c = ownContainer(s, str(p, 'container'));
    const path = filePath(p, 'path');
    const source = await c.node.engine.readFile(c.existingEngineId(), path);
    const reader = new FileReader(
      transfer, source,
      { data: (chunk) => s.emit('file_data', { transfer }, chunk), end: (error) => s.emit('file_end', { transfer, error }) },
      () => c.transfers.delete(transfer),
    );
    c.addTransfer(reader);
    void reader.run(); // sends nothing until the client's first file_ack, which follows this reply
    return { size: source.size };
  },

  async put_file(s, p) {
    const transfer = newId(p, 'transfer');
    const c = ownContainer(s, str(p, 'container'));
    const path = filePath(p, 'path');
    const size = int(p, 'size');
    const sink = await c.node.engine.writeFile(c.existingEngineId(), path, size);
    const writer = new FileWriter(
      transfer, sink, size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => c.transfers.delete(transfer),
    );
    c.addTransfer(writer);
    // An empty file has no data to wait for; finish it after this reply has gone out.
    if (size === 0) setImmediate(() => writer.complete());
    return {};
  },

  async reboot_container(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    await c.reboot(bool(p, 'resetFilesystem'));
    return {};
  },

  async allow_connection(s, p) {
    const target = connectable(s, str(p, 'container'), 'container');
    const from = connectable(s, str(p, 'from'), "'from' container");
    if (target.id === from.id) throw new BadRequest(`a container can always reach itself; 'from' must be another container`);
    for (const c of [target, from]) c.runningEngineId('allowing a connection');
    await connectionGrants(s.ctx).allow(target, from);
    return {};
  },

  async disallow_connection(s, p) {
    const target = connectable(s, str(p, 'container'), 'container');
    const from = str(p, 'from');
    // `from` may be gone already (destroyed, or no longer external): its grant goes all the same.
    if (!s.containers.has(from) && !s.ctx.externals.find(s.user, s.id, from) && s.ctx.containers.has(from)) {
      throw new ContainerNotFound(`'from' container '${from}' is neither a container of this session nor an external container of yours`);
    }
    await connectionGrants(s.ctx).disallow(target.id, from);
    return {};
  },

  async publish_web(s, p) {
    const cluster = newId(p, 'cluster');
    const fqdn = s.ctx.sites.checkName(str(p, 'fqdn'));
    const members = [...new Set(optStrings(p, 'containers') ?? [])].map((id) => connectable(s, id, 'cluster member').id);
    const rewrite = optStr(p, 'rewrite');
    if (rewrite !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(rewrite)) throw new BadRequest(`'rewrite' must be a host name (optionally :port) to put in the Host header (got '${rewrite}')`);
    s.ctx.sites.publish({ fqdn, cluster, session: s.id, members, rewrite, tls: siteCertificate(p, fqdn), cursor: 0 });
    return {};
  },

  async unpublish_web(s, p) {
    const cluster = str(p, 'cluster');
    s.ctx.sites.ofCluster(cluster, s.id);
    s.ctx.sites.unpublish(cluster);
    return {};
  },

  async add_to_cluster(s, p) {
    const site = s.ctx.sites.ofCluster(str(p, 'cluster'), s.id);
    const member = connectable(s, str(p, 'container'), 'cluster member');
    if (!site.members.includes(member.id)) site.members = [...site.members, member.id];
    return {};
  },

  async remove_from_cluster(s, p) {
    const site = s.ctx.sites.ofCluster(str(p, 'cluster'), s.id);
    const id = str(p, 'container');
    site.members = site.members.filter((m) => m !== id);
    return {};
  },

  async wait_tcp(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    await waitTcp(c, port(p, 'port'), int(p, 'timeout', 1, MAX_WAIT_S) * 1000);
    return {};
  },

  async wait_http_200(s, p) {
    const c = ownContainer(s, str(p, 'container'));
    const path = str(p, 'path');
    if (!path.startsWith('/')) throw new BadRequest(`'path' must start with / (got '${path}')`);
    await waitHttp200(c, port(p, 'port'), str(p, 'fqdn'), path, int(p, 'timeout', 1, MAX_WAIT_S) * 1000);
    return {};
  },

  ...logCommandHandlers, // #16
  ...waitCommandHandlers, // #16
  ...statsCommandHandlers, // #16
};

const conn = (p: Params) => int(p, 'conn', 1);

export const messageHandlers: MessageHandlers = {
  ack: (s, p) => s.acknowledge(int(p, 'seq', 0)),
  tunnel_open: (s, p) => s.tunnels.open(str(p, 'tunnel'), conn(p)),
  tunnel_data: (s, p, bulk) => s.tunnels.data(conn(p), bulk),
  tunnel_ack: (s, p) => s.tunnels.ack(conn(p), int(p, 'bytes', 1)),
  tunnel_end: (s, p) => s.tunnels.end(conn(p)),
  tunnel_close: (s, p) => s.tunnels.close(conn(p)),
  container_stdin: (s, p, bulk) => ownContainer(s, str(p, 'container')).writeStdin(bulk),
  process_stdin: (s, p, bulk) => ownProcess(s, str(p, 'process')).write(bulk),
  process_stdin_end: (s, p) => ownProcess(s, str(p, 'process')).endStdin(),
  process_resize: (s, p) => void ownProcess(s, str(p, 'process')).resize(int(p, 'cols', 1, 10_000), int(p, 'rows', 1, 10_000)).catch(() => undefined),
  file_data: (s, p, bulk) => {
    const id = str(p, 'transfer');
    (s.uploads.get(id) ?? ownTransfer(s, id, FileWriter))?.data(bulk);
  },
  file_ack: (s, p) => ownTransfer(s, str(p, 'transfer'), FileReader)?.grant(int(p, 'bytes', 1)),
  file_cancel: (s, p) => {
    const id = str(p, 'transfer');
    (s.uploads.get(id) ?? ownTransfer(s, id, FileReader) ?? ownTransfer(s, id, FileWriter))?.cancel();
  },
};
