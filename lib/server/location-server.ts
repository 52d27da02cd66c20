/**
 * The location: a WebSocket server in front of one or more container engines (nodes). It owns the
 * engines; clients only ever talk to it. Runs as `tfnz location` or embedded in an SDK process.
 */
import { WebSocketServer } from 'ws';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, STATUS_CODES, type Server as HttpServer } from 'node:http';
import { acceptDataConnection, isDataUpgrade } from './data-connections';
import { bindingOf, type TlsIdentity } from './tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engines/engine';
import { DockerEngine } from '../engines/docker-engine';
import { engineLog } from './engine-logs';
import { NodePool, type NodeChange } from './node-pool';
import { Session } from './session';
import { VolumeStore } from './volume-store';
import { UserChannels } from './user-channels';
import { ExternalRegistry } from './external-registry';
import { AuthorizedUsers } from './authorized-users';
import { keepAlive } from '../protocol/heartbeat';
import { PLAIN_BINDING } from '../protocol/identity';
import { reapOrphans } from './reaper';
import { ConnectionGrants } from './connection-grants';
import { NameServer, hostResolver } from './name-server';
import { localAddressTowards } from './location-address';
import { isLocalEngine } from '../engines/host-firewall';
import { ImageResolver } from './image-resolver';
import { LABEL, type LocationContext } from './location-context';
import { BadRequest, preEncodeEvent, type EndpointInfo, type Events, type NodeInfo } from '../protocol';
import type { ManagedContainer } from './managed-container';
import { WebSites } from './web-sites';
import { FrontDoor } from './front-door';
import { dialContainer } from './container-dial';
import { SwarmNodes, type SwarmOptions } from './swarm-nodes';
import { LayerCache } from './layer-cache';
import { join } from 'node:path';
import { accountsDir } from '../shared/tfnz-home';
import { DEFAULT_LOG_LIMITS, type LogHistoryLimits } from './log-history';
import { resolveLimits, type Limits } from './limits';
import { Admission } from './admission';
import { Quotas } from './quotas';
import { installLastResortGuard } from './guard';

/** The default cache directory of the location called `name`. */
export function defaultCacheDir(name: string): string {
  return join(accountsDir(), 'location-cache', name.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** The log history bounds from the options, checked (#16). */
function logLimits(given: Partial<LogHistoryLimits> = {}): LogHistoryLimits {
  const limits = { ...DEFAULT_LOG_LIMITS, ...given };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v < 1) throw new BadRequest(`logHistory.${k} must be a whole number of at least 1 (got ${v})`);
  }
  return limits;
}

export interface LocationServerOptions {
  /** The location's name, carried in labels; default 'local'. */
  name?: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 2020, 0 picks a free one. */
  port?: number;
  /** Engines to use as nodes; default the local Docker Engine. */
  engines?: Engine[];
  /** How often node stats are sampled; default 5 s. */
  statsIntervalMs?: number;
  /**
   * A node whose engine has not answered for this long is gone (its containers end with NodeGone);
   * a shorter network blip costs nothing. An engine that refuses connections is gone at once.
   * Default 15 s; noticed at the next stats sample.
   */
  nodeGoneAfterMs?: number;
  /** Extra labels on everything created (the embedded location records its process). */
  labels?: Record<string, string>;
  /** Which of this location's leftover containers to remove at start; default all of them. */
  shouldReap?: (labels: Record<string, string>) => boolean;
  /** Where log lines go; default stderr. */
  log?: (line: string) => void;
  /** How often each client socket is checked for life; two silent intervals drop it. Default 10 s. */
  heartbeatMs?: number;
  /**
   * How much of each container's output the location keeps for ctr.logs() and log waits (#16);
   * default 1 MiB or 10 000 lines per container, whichever comes first (oldest lines go first).
   */
  logHistory?: Partial<LogHistoryLimits>;
  /** Let sessions spawn containers with `privileged: true` (full access to the host); default no. */
  allowPrivileged?: boolean;
  /**
   * What each engine keeps of its containers' output, beside the location's own history: `none`
   * (the default: the location streams and keeps output itself), `json-file` or `local` (rotated,
   * at most 20 MiB per container, for `docker logs` on the node), `engine` (the engine's own
   * default driver), or another Docker log driver's name.
   */
  engineLogs?: string;
  /** How long a session whose connection dropped is kept for its client to resume; default 120 s. */
  sessionGraceMs?: number;
  /** Admit only the public keys in this authorized_keys file; without it (or admitKeys) the location is open. */
  authorizedKeys?: string;
  /** Admit exactly these public keys (the embedded location: its owner's account key). */
  admitKeys?: string[];
  /** Domains the front door serves (sites are published at names ending in one); default ['localhost']. */
  domains?: string[];
  /** Interface the front door listens on; default the same as `host`. */
  webHost?: string;
  /**
   * Where containers' questions for names that are not the location's go (its name server,
   * name-server.ts): 'IP' or 'IP:PORT' of a DNS resolver; default the first IPv4 `nameserver` of
   * this machine's /etc/resolv.conf; false: nowhere (those names are NXDOMAIN).
   */
  upstreamDns?: string | false;
  /** The front door's HTTP port; default 0 (any free one; sessions are told which). */
  httpPort?: number;
  /** The front door's HTTPS port; default 0 (any free one). */
  httpsPort?: number;
  /**
   * Worker processes that proxy the front door's plain-HTTP requests on further cores, as nginx's
   * workers do (`tfnz location --door-workers`); default 0: this process serves them, as a
   * location embedded in a program should (its process is the program's).
   */
  frontDoorWorkers?: number;
  /**
   * Where uploaded image layers and descriptions are kept (across restarts); default
   * `$TFNZ_HOME/location-cache/<name>` (~/.tfnz/...). Made on first upload.
   */
  cacheDir?: string;
  /** Limits to change from their defaults (see LIMITS in limits.ts and the README's table). */
  limits?: Partial<Limits>;
  /**
   * Install the last-resort guard (guard.ts): uncaught exceptions and unhandled rejections are
   * logged and end only the session that caused them, instead of the process. `tfnz location` sets
   * it; leave it off when the process is your program's, which keeps its own policy.
   */
  guardProcess?: boolean;
  /**
   * Serve wss:// with this certificate and key (PEM; see tls.ts for a self-signed one kept across
   * restarts). Without it, plain ws://, which the SDK uses only on loopback.
   */
  tls?: TlsIdentity;
  /**
   * Take the nodes from a Docker Swarm: a manager's engine address (https://HOST:2376?certs=DIR)
   * or options (swarm-nodes.ts). Each ready, active swarm node is a node; containers join the
   * swarm's attachable overlay ('tfnz' unless given). Without `engines`, no other node is added.
   */
  swarm?: string | SwarmOptions;
  /**
   * Take tunnel data connections (each tunnelled connection's bytes on a TCP connection of its own
   * to this port, beside the session's WebSocket); default true. False makes every tunnel ride the
   * WebSocket, as locations before data connections did.
   */
  dataConnections?: boolean;
}

export class LocationServer {
  /** The swarm the nodes come from, when started with `swarm`. */
  private swarm?: SwarmNodes;

  private constructor(
    private readonly http: HttpServer,
    private readonly wss: WebSocketServer,
    private readonly ctx: LocationContext,
    /** The same set the context's forget/findSession use. */
    private readonly sessions: Set<Session>,
    private readonly log: (line: string) => void,
    private readonly shouldReap: ((labels: Record<string, string>) => boolean) | undefined,
    heartbeatMs: number | undefined,
    private readonly frontDoor: FrontDoor,
    private readonly unguard: () => void,
    private readonly scheme: 'ws' | 'wss',
    private readonly names: NameServer,
    private readonly admission: Admission,
  ) {
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (isDataUpgrade(req)) {
        if (!ctx.dataConnections) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return acceptDataConnection(req, socket, head, ctx.findSession, log);
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    wss.on('connection', (ws, req) => {
      const admitted = admission.admit(ws, req.socket.remoteAddress ?? '');
      if (!admitted) return;
      keepAlive(ws, heartbeatMs);
      const session = new Session(this.ctx, ws, req.socket, admitted);
      this.sessions.add(session);
      this.log(`session ${session.id} connected from ${req.socket.remoteAddress}`);
      // The session itself decides what a closed socket means (end now, or wait for a resume).
      ws.on('close', () => this.log(`socket of session ${session.id} closed`));
    });
  }

  get nodes(): NodePool {
    return this.ctx.nodes;
  }

  get name(): string {
    return this.ctx.name;
  }

  /**
   * Start a location: listen for sessions, adopt the engines (the local Docker Engine when none are
   * given) and reap what a previous run left.
   *
   * @example
   * ```ts
   * import { LocationServer } from 'tfnz/server';
   * const server = await LocationServer.start({ name: 'lab', port: 2020 });
   * const loc = await Location.connect({ location: server.url });
   * ```
   */
  static async start(opts: LocationServerOptions = {}): Promise<LocationServer> {
    const name = opts.name ?? 'local';
    const logHistory = logLimits(opts.logHistory);
    const containerEngineLog = engineLog(opts.engineLogs); // a bad name throws before anything starts
    const log = opts.log ?? (() => undefined);
    const limits = resolveLimits(opts.limits);
    let server: LocationServer | undefined;
    const nodes = new NodePool((change) => server?.broadcast(change), opts.statsIntervalMs, opts.nodeGoneAfterMs);
    const engines = opts.engines ?? (opts.swarm ? [] : [new DockerEngine()]);
    for (const engine of engines) await nodes.add(engine);
    const reaped = await reapOrphans(engines, name, opts.shouldReap);
    if (reaped) log(`removed ${reaped} container(s) left by sessions that no longer exist`);
    const channels = new UserChannels();
    const volumes = new VolumeStore(nodes, name, channels);
    const kept = await volumes.load();
    if (kept) log(`${kept} persistent volume(s) found on the engines`);
    const { http, wss } = await listen(opts.host ?? '127.0.0.1', opts.port ?? 2020, limits.frameBytes, limits.openDeadlineMs, opts.tls);
    const sessions = new Set<Session>();
    const containers = new Map<string, ManagedContainer>();
    const sites = new WebSites((opts.domains ?? ['localhost']).map((d) => d.toLowerCase().replace(/^\.|\.$/g, '')));
    const frontDoor = await FrontDoor.start({
      host: opts.webHost ?? opts.host ?? '127.0.0.1', httpPort: opts.httpPort ?? 0, httpsPort: opts.httpsPort ?? 0, sites, log, workers: opts.frontDoorWorkers,
      resolve: (id) => {
        const c = containers.get(id);
        if (c?.status !== 'running' || !c.privateIp) return undefined;
        const { engine } = c.node;
        const ip = c.privateIp;
        return engine.dial ? { id, ip, dial: (port) => dialContainer(engine, ip, port) } : { id, ip };
      },
    }).catch(async (err: Error) => {
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
      throw err;
    });
    const images = new LayerCache(opts.cacheDir ?? defaultCacheDir(name));
    const upstream = opts.upstreamDns === false ? undefined : opts.upstreamDns ?? hostResolver();
    const [upstreamIp, upstreamPort] = upstream?.split(':') ?? [];
    const names = new NameServer((query, askerIp, localIp) => containerName(containers, sites.domains, query, askerIp, localIp), log, 53, upstreamIp ? {
      address: upstreamIp, port: Number(upstreamPort ?? 53),
      // Tags and ids are single labels; published names sit under the front door's domains.
      isOurs: (query) => !query.includes('.') || sites.domains.some((d) => query === d || query.endsWith(`.${d}`)),
      mayAsk: (ip) => [...containers.values()].some((c) => c.status === 'running' && c.privateIp === ip),
    } : undefined);
    const admission = new Admission(limits, log);
    const nameServers = new WeakMap<Engine, string[]>();
    const ctx: LocationContext = {
      name, nodes, labels: opts.labels ?? {}, volumes, channels,
      containers, sites,
      endpoints: () => sites.domains.map((domain) => ({ domain, httpPort: frontDoor.httpPort, httpsPort: frontDoor.httpsPort })),
      forget: (s) => sessions.delete(s),
      findSession: (id) => [...sessions].find((s) => s.id === id),
      sessionsOf: (user) => [...sessions].filter((s) => s.opened && !s.ended && s.user === user),
      graceMs: opts.sessionGraceMs ?? 120_000,
      externals: new ExternalRegistry(channels),
      logLimits: logHistory,
      allowPrivileged: !!opts.allowPrivileged,
      engineLog: containerEngineLog,
      users: admitted(opts),
      channelBinding: opts.tls ? bindingOf(opts.tls) : PLAIN_BINDING,
      images,
      imageResolver: new ImageResolver(images),
      grants: new ConnectionGrants(name, containers, nodes),
      nameServersFor: (node) => {
        // Known once found: the network, the name server's and front door's sockets outlive every spawn.
        const known = nameServers.get(node.engine);
        if (known) return Promise.resolve(known);
        return findNameServers(node.engine, names, frontDoor).then((found) => {
          if (found) nameServers.set(node.engine, found);
          return found;
        });
      },
      spawning: new Set(),
      dataConnections: opts.dataConnections === false ? undefined : (address) => admission.reserve(address),
      limits,
      quotas: new Quotas(limits, (user) => [...sessions].filter((s) => s.opened && !s.ended && s.user === user)),
    };
    // Packet-filter rules this location left about containers that are gone (see connection-grants.ts).
    const live = new Set<string>();
    for (const engine of engines) {
      for (const c of await engine.list({ [LABEL.location]: name }).catch(() => [])) if (c.labels[LABEL.container]) live.add(c.labels[LABEL.container]);
    }
    await ctx.grants.removeStale(live).catch((err: Error) => log(`could not clear stale connection rules: ${err.message}`));
    const unguard = opts.guardProcess ? installLastResortGuard(log) : () => undefined;
    server = new LocationServer(http, wss, ctx, sessions, log, opts.shouldReap, opts.heartbeatMs, frontDoor, unguard, opts.tls ? 'wss' : 'ws', names, admission);
    nodes.startSampling();
    if (opts.swarm) {
      const swarm = new SwarmNodes(server, typeof opts.swarm === 'string' ? { manager: opts.swarm } : opts.swarm, log);
      server.swarm = swarm;
      await swarm.start().catch(async (err: Error) => {
        await server?.close();
        throw new BadRequest(err.message);
      });
    }
    log(`location '${name}' listening on ${server.url} with ${nodes.list().filter((n) => n.alive).length} node(s); web front door on http ${frontDoor.httpPort}, https ${frontDoor.httpsPort} for ${sites.domains.join(', ')}`);
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    const { address, port, family } = this.http.address() as AddressInfo;
    return `${this.scheme}://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  /** Process ids of the front door's worker processes (`frontDoorWorkers`); empty without them. */
  get frontDoorWorkerPids(): number[] {
    return this.frontDoor.workerPids;
  }

  /** Where the front door listens, and the domains it serves. */
  get endpoints(): EndpointInfo[] {
    return this.ctx.endpoints();
  }

  /** The image cache: its directory, and how many layer bytes uploads stored since start. */
  get images(): LayerCache {
    return this.ctx.images;
  }

  /** The limits this location enforces: the defaults with `limits` on top. */
  get limits(): Readonly<Limits> {
    return this.ctx.limits;
  }

  /** Data connections open or offered: tunnel connections' and (#17) layer uploads'. */
  get dataConnectionCount(): number {
    return this.admission.dataConnections;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** End every session (collecting what they made) and stop listening. */
  async close(): Promise<void> {
    this.swarm?.stop();
    this.nodes.stop();
    await Promise.all([...this.sessions].map((s) => s.end()));
    await this.ctx.grants.closeAll(); // this location's packet-filter rules and host agents
    await this.names.close();
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections(); // data connections and sockets still in their handshake
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.frontDoor.close();
    this.unguard();
  }

  /**
   * Add an engine to the running location as a node (or bring a removed one back). Containers this
   * location left on it are reaped first; then every session hears `node_created`. Rejects when the
   * engine does not answer. `engine` is an address (unix://, tcp://, https://) or an Engine.
   */
  async addEngine(engine: string | Engine, name?: string): Promise<NodeInfo> {
    const e = typeof engine === 'string' ? new DockerEngine(engine) : engine;
    const live = this.nodes.byAddress(e.address);
    if (live?.info.alive) return live.info;
    const reaped = await reapOrphans([e], this.name, (labels) => this.isLeftover(labels));
    if (reaped) this.log(`removed ${reaped} leftover container(s) from ${e.address}`);
    return this.nodes.add(e, name);
  }

  /**
   * Take an engine out of the running location: its containers are reported destroyed (NodeGone)
   * to their sessions and removed from the engine if it still answers; the node stays in every
   * session's state, not alive, with no spare capacity. `addEngine` with the address undoes it.
   */
  async removeEngine(address: string, reason?: string): Promise<void> {
    const node = this.nodes.byAddress(address);
    if (!node) return;
    this.nodes.remove(node.info.id, reason);
    await reapOrphans([node.engine], this.name, (labels) => this.isLeftover(labels)).catch((err: Error) =>
      this.log(`could not clear ${address} after removing it: ${err.message}`),
    );
  }

  /**
   * A session container of ours that no live session container stands for (live ones are reported
   * and removed on their own). Other things we label (volume helpers, …) are left alone.
   */
  private isLeftover(labels: Record<string, string>): boolean {
    if (!labels[LABEL.container]) return false;
    if (Object.entries(this.ctx.labels).some(([k, v]) => labels[k] !== v)) return this.shouldReap?.(labels) ?? false;
    const live = this.ctx.containers.get(labels[LABEL.container]);
    return !live || live.status === 'destroyed';
  }

  private broadcast(change: NodeChange): void {
    if (change.kind === 'destroyed') this.log(`node ${change.node} is gone: ${change.reason}`);
    else if (change.kind === 'created') {
      this.log(`node ${change.node.id} (${change.node.name}) is ${change.revived ? 'back' : 'live'}`);
      // A node that came back by itself may still hold containers of the sessions it lost.
      if (change.revived) {
        const engine = this.nodes.find(change.node.id)?.engine;
        if (engine) void reapOrphans([engine], this.name, (labels) => this.isLeftover(labels)).catch(() => undefined);
      }
    }
    // Encoded once for all sessions; each only adds its own seq.
    const encoded =
      change.kind === 'created' ? preEncodeEvent('node_created', { node: change.node } satisfies Events['node_created'])
      : change.kind === 'destroyed' ? preEncodeEvent('node_destroyed', { node: change.node, reason: change.reason } satisfies Events['node_destroyed'])
      : preEncodeEvent('node_stats', { node: change.node, stats: change.stats } satisfies Events['node_stats']);
    for (const s of this.sessions) if (s.opened && !s.ended) s.emitEncoded(encoded);
    if (change.kind === 'destroyed') {
      // Then every container of every session on it: destroyed with NodeGone. The node event goes
      // first, so a program that hears of a termination already sees the node gone.
      for (const c of this.ctx.containers.values()) if (c.node.info.id === change.node) c.nodeGone(`node ${c.node.info.name} went away: ${change.reason}`);
    }
  }
}

/**
 * What the location's name server answers (name-server.ts): a front-door domain or a name under
 * it is the location itself (`localIp`); a container's tag or id is its private IP, for a running
 * container of the same user asking.
 */
function containerName(containers: Map<string, ManagedContainer>, domains: readonly string[], name: string, askerIp: string, localIp: string): string | undefined {
  if (domains.some((d) => name === d || name.endsWith(`.${d}`))) return localIp;
  const running = [...containers.values()].filter((c) => c.status === 'running' && c.privateIp);
  const asker = running.find((c) => c.privateIp === askerIp);
  if (!asker) return undefined;
  const user = asker.labels[LABEL.user];
  return running.find((c) => c.labels[LABEL.user] === user && (c.tag?.toLowerCase() === name || c.id.toLowerCase() === name))?.privateIp;
}

/** The name servers of containers on `engine`: the location itself, where containers there reach it. */
async function findNameServers(engine: Engine, names: NameServer, frontDoor: FrontDoor): Promise<string[] | undefined> {
  if (isLocalEngine(engine.address)) return localNameServers(engine, names, frontDoor);
  const ip = await localAddressTowards(engine.address);
  return (await names.listen(ip)) ? [ip] : undefined;
}

/**
 * Name servers for containers on an engine of the location's own machine: the location itself at
 * the containers' gateway, where the front door listens too (so published names work inside); none
 * when the engine has no gateway or another location on this machine serves names there already.
 */
async function localNameServers(engine: Engine, names: NameServer, frontDoor: FrontDoor): Promise<string[] | undefined> {
  const network = await engine.containerNetwork?.().catch(() => undefined);
  if (!network || !(await names.listen(network.gateway))) return undefined;
  await frontDoor.alsoListen(network.gateway, network.subnet);
  return [network.gateway];
}

function admitted(opts: LocationServerOptions): AuthorizedUsers {
  if (opts.admitKeys) return AuthorizedUsers.only(opts.admitKeys);
  return opts.authorizedKeys ? AuthorizedUsers.fromFile(opts.authorizedKeys) : AuthorizedUsers.open();
}

/**
 * `maxPayload` is the open sessions' cap; Admission lowers it per socket until a session opens.
 * The HTTP(S) server is ours, not ws's: its upgrades are either a session's WebSocket or a tunnel's
 * data connection (data-connections.ts). A request that is neither gets 426, as ws would answer;
 * a client that sends its headers slowly is cut after `headersMs`.
 */
function listen(host: string, port: number, maxPayload: number, headersMs: number, tls?: TlsIdentity): Promise<{ http: HttpServer; wss: WebSocketServer }> {
  return new Promise((resolve, reject) => {
    const options = { headersTimeout: headersMs, requestTimeout: headersMs, connectionsCheckingInterval: Math.min(1000, headersMs) };
    const server: HttpServer = tls ? createHttpsServer({ ...options, cert: tls.cert, key: tls.key }) : createHttpServer(options);
    // A failed handshake (a scanner, a client that refused our certificate) is that socket's end only.
    server.on('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('request', (_req, res) => {
      const body = STATUS_CODES[426]!;
      res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
      res.end(body);
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
    server.once('error', reject);
    server.listen(port, host, () => resolve({ http: server, wss }));
  });
}
