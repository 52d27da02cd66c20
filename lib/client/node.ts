/** A node of the location: where containers run. Its stats are live; it spawns and destroys. */
import { distinctUntilChanged, map, type Observable } from 'rxjs';
import { customAlphabet } from 'nanoid';

/**
 * Container ids are names too (the location's DNS answers for them, tfnz ps shows them): lower-case
 * letters and digits only, so each is a valid host-name label that no tool reads as an option.
 * 21 of 36 characters: about 108 bits.
 */
const containerId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 21);
import { BadRequest, ImageNotFound, NodeNotFound, errorToWire, type ContainerInfo, type NodeInfo, type NodeStats, type PullPolicy } from '../protocol';
import type { SessionContext } from './session-context';
import { pickDistinct } from './pick-distinct';
import { Container } from './container';
import { Volume } from './volume';
import type { WaitStrategy } from './wait';

/** Options of `Node.spawnContainer`. */
export interface SpawnOptions {
  /** Persistent volumes to mount: [volume (or its uuid, tag or uuid:tag), absolute mount point]. */
  volumes?: [Volume | string, string][];
  /** Environment variables, as a record or as [name, value] pairs; added to the image's. */
  env?: Record<string, string> | [string, string][];
  /** Replaces the image's entrypoint and command: ['nginx', '-g', 'daemon off;']. */
  command?: string[];
  /** Boot with a placeholder main process; `ctr.start()` runs the real one. Needs /bin/sh in the image. */
  sleep?: boolean;
  /** A tag for discovery, unique per user (see TaggedCollection). */
  tag?: string;
  /** Keep the main process's stdin open for `ctr.stdin()`. */
  stdin?: boolean;
  /**
   * Files written before the first process starts, as [absolute path, contents] (strings are
   * UTF-8): configuration, secrets. A reboot with `resetFilesystem` writes them again. They travel
   * with the spawn request, so keep them to a few MB in all; use `ctr.put` for big files.
   */
  preBootFiles?: [string, string | Uint8Array][];
  // #16
  /** What "ready" means: `ready()` resolves only once this holds (see `Wait`). */
  waitFor?: WaitStrategy;
  /** How long `waitFor` may take once the container runs before `ready()` rejects with StartupTimeout; default 60 000. */
  startupTimeoutMs?: number;
  /** Replaces the image's entrypoint; `command` then gives its arguments (none when absent). */
  entrypoint?: string[];
  /** user, uid, user:group or uid:gid the main process runs as, e.g. '1000:1000'. */
  user?: string;
  /** The main process's working directory (absolute). */
  workdir?: string;
  /** Your own labels on the engine's container, beside tfnz's (names starting 'tfnz.' are refused). */
  labels?: Record<string, string>;
  /** Limits: memory in MiB (no swap beyond it), CPUs as a fraction of cores (1.5 = one and a half). */
  resources?: { memoryMb?: number; cpus?: number };
  /** Linux capabilities to add or drop, e.g. ['NET_ADMIN'] (CAP_ prefix optional, ALL allowed). */
  capAdd?: string[];
  capDrop?: string[];
  /** tmpfs mounts: mount point → mount options, e.g. { '/run': 'size=64m' } ('' for the defaults). */
  tmpfs?: Record<string, string>;
  /** Size of /dev/shm in MiB. */
  shmSizeMb?: number;
  /**
   * A health check for Wait.forHealthCheck(): a string runs through the shell, a list is argv.
   * Defaults: every 1 s, 5 s timeout, unhealthy after 3 failures (faster than Docker's 30 s).
   */
  healthcheck?: { command: string | string[]; intervalMs?: number; timeoutMs?: number; retries?: number; startPeriodMs?: number };
  /** Full access to the host: refused unless the location was started to allow it. */
  privileged?: boolean;
  // #19
  /**
   * When the node pulls the image from its registry, as `docker run --pull`: `missing` (default)
   * pulls only an image that neither the node, the location's cache nor your own Docker Engine
   * holds (one in your engine is uploaded instead); `always` pulls on every spawn; `never` does
   * not pull (ImageNotFound). Credentials come from `connect({ registryAuth })` or your Docker
   * config, and travel only with this spawn. Watch a pull with `ctr.pull$`.
   */
  pull?: PullPolicy;
}

/**
 * A node of the location: one container engine, with live spare capacity (`stats$`). Get one from
 * `Location.node()` (the best-placed) or `Location.rankedNodes()`, then spawn containers on it.
 *
 * @example
 * ```ts
 * const node = loc.node();
 * const web = node.spawnContainer('nginx', { tag: 'web' });
 * await web.waitHttp200();
 * ```
 */
export class Node {
  /** Live stats (cpu, memory, paging, containers), emitted when they change. */
  readonly stats$: Observable<NodeStats>;
  /** This node's info (name, alive, stats), emitted when it changes. */
  readonly info$: Observable<NodeInfo>;
  /** This session's live containers on this node. */
  readonly containers$: Observable<Container[]>;

  /** @internal Nodes come from the location's state: use `loc.node()` or `loc.rankedNodes()`. */
  constructor(
    private readonly ctx: SessionContext,
    readonly id: string,
  ) {
    // Read on every state emission: one fused step each (a stats change reaches every session).
    this.info$ = ctx.state$.pipe(pickDistinct((s) => s.nodes[id]));
    this.stats$ = ctx.state$.pipe(pickDistinct((s) => s.nodes[id]?.stats));
    this.containers$ = ctx.state$.pipe(
      map((s) => s.containers),
      distinctUntilChanged(),
      map(() => this.allContainers()),
      distinctUntilChanged(sameHandles),
    );
  }

  get info(): NodeInfo {
    const info = this.ctx.state$.value.nodes[this.id];
    if (!info) throw new NodeNotFound(`node ${this.id} is not in this session's state`);
    return info;
  }
  get name(): string {
    return this.info.name;
  }
  get stats(): NodeStats {
    return this.info.stats;
  }
  get alive(): boolean {
    return this.info.alive;
  }
  /**
   * Labels the location's cluster manager gives this node (swarm node labels such as
   * `tfnz.host` or the operator's `zone`); empty when it has none. Filter on them to place:
   * `loc.rankedNodes().find((n) => n.labels.zone === 'a')`.
   */
  get labels(): Readonly<Record<string, string>> {
    return this.info.labels ?? {};
  }

  /**
   * Start a container from `image`. Returns at once; `await ctr.ready()` to wait until it runs.
   * Bad options throw BadRequest here; failures at the location (ImageNotFound, …) reject `ready()`.
   */
  spawnContainer(image: string, opts: SpawnOptions = {}): Container {
    if (typeof image !== 'string' || image === '') throw new BadRequest('spawnContainer needs an image name');
    const env = normaliseEnv(opts.env);
    const volumes = normaliseVolumes(opts.volumes);
    if (opts.command !== undefined && (!Array.isArray(opts.command) || opts.command.length === 0 || !opts.command.every((s) => typeof s === 'string'))) {
      throw new BadRequest("command must be a non-empty list of strings, e.g. ['nginx', '-g', 'daemon off;']");
    }
    const preBootFiles = normalisePreBootFiles(opts.preBootFiles);
    checkStartupWait(opts);
    const id = containerId();
    const info: ContainerInfo = { id, node: this.id, image, tag: opts.tag, status: 'spawning', sleeping: !!opts.sleep };
    this.ctx.handles.containers.set(id, new Container(this.ctx, this, info));
    this.ctx.dispatch({ type: 'container_spawning', container: info });
    const container = this.ctx.containerHandle(id)!;
    if (opts.waitFor) container.startWaiting(opts.waitFor, opts.startupTimeoutMs);
    this.ctx.log.info(`spawning ${image} as ${id} on ${this.name}`);
    const params = {
      container: id, node: this.id, image, env, command: opts.command, sleep: !!opts.sleep, tag: opts.tag, stdin: !!opts.stdin, preBootFiles, volumes,
      // #16: checked at the location, before anything is created.
      entrypoint: opts.entrypoint, user: opts.user, workdir: opts.workdir, labels: opts.labels, resources: opts.resources, capAdd: opts.capAdd,
      capDrop: opts.capDrop, tmpfs: opts.tmpfs, shmSizeMb: opts.shmSizeMb, healthcheck: opts.healthcheck, privileged: opts.privileged,
    };
    // With the image in the user's own engine, the location runs exactly that image: from its node
    // or its cache, else ImageNotFound, and then it is uploaded (only what is missing) and spawned again.
    const pull = opts.pull;
    if (pull !== undefined && !['always', 'missing', 'never'].includes(pull)) throw new BadRequest(`pull must be 'always', 'missing' or 'never' (got '${String(pull)}')`);
    const spawn = async () => {
      const imageId = pull === 'always' ? undefined : await this.ctx.localImageId(image);
      // #19: credentials only when the node may pull or must ask the registry (no local image to upload).
      const registryAuth = imageId ? undefined : this.ctx.registryAuthFor(image);
      try {
        await this.ctx.connection.request('spawn_container', { ...params, imageId, pull, registryAuth }, 300_000);
      } catch (err) {
        if (!(err instanceof ImageNotFound) || !imageId) throw err;
        this.ctx.log.info(`uploading ${image} to the location`);
        await this.ctx.ensureUploaded(image);
        await this.ctx.connection.request('spawn_container', { ...params, imageId }, 300_000);
      }
    };
    spawn()
      .then(
        () => this.ctx.log.info(`container ${id} is running (${container.privateIp ?? 'no address'})`),
        (err: Error) => {
          this.ctx.log.info(`container ${id} failed to start: ${err.message}`);
          this.ctx.dispatch({ type: 'container_failed', container: id, error: errorToWire(err) });
        },
      );
    return container;
  }

  /** Destroy a container of this node; resolves once it is gone from the engine. */
  async destroyContainer(container: Container): Promise<void> {
    if (container.node !== this) throw new BadRequest(`container ${container.id} is on node ${container.node.id}, not ${this.id}`);
    if (container.status === 'destroyed') return;
    await container.running().catch(() => undefined);
    if ((container.status as string) === 'destroyed') return; // it failed to start
    await this.ctx.connection.request('destroy_container', { container: container.id });
  }

  /** This session's containers on this node that are not destroyed (as the state says). */
  allContainers(): Container[] {
    return liveContainers(this.ctx, (c) => c.node === this.id);
  }
}

/** Handles of the state's containers that are not destroyed and pass `where`. */
export function liveContainers(ctx: SessionContext, where: (c: ContainerInfo) => boolean): Container[] {
  const out: Container[] = [];
  for (const info of ctx.state$.value.containers.values()) {
    if (info.status === 'destroyed' || !where(info)) continue;
    const handle = ctx.containerHandle(info.id);
    if (handle) out.push(handle);
  }
  return out;
}

const sameHandles = (a: Container[], b: Container[]) => a.length === b.length && a.every((c, i) => c === b[i]);

function normaliseVolumes(volumes: SpawnOptions['volumes']): [string, string][] | undefined {
  if (volumes === undefined) return undefined;
  const ok = Array.isArray(volumes) && volumes.every((v) => Array.isArray(v) && v.length === 2 && (v[0] instanceof Volume || typeof v[0] === 'string') && typeof v[1] === 'string');
  if (!ok) throw new BadRequest("volumes must be a list of [volume, '/mount/point'] pairs, e.g. [[vol, '/data']]");
  return volumes.map(([v, target]) => [v instanceof Volume ? v.id : v, target]);
}

function normaliseEnv(env: SpawnOptions['env']): [string, string][] | undefined {
  if (env === undefined) return undefined;
  const pairs = Array.isArray(env) ? env : typeof env === 'object' && env !== null ? Object.entries(env) : undefined;
  if (!pairs || !pairs.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
    throw new BadRequest("env must be a record { NAME: 'value' } or a list of [name, value] string pairs");
  }
  return pairs as [string, string][];
}

function normalisePreBootFiles(files: SpawnOptions['preBootFiles']): [string, Uint8Array][] | undefined {
  if (files === undefined) return undefined;
  const ok = Array.isArray(files) && files.every((f) =>
    Array.isArray(f) && f.length === 2 && typeof f[0] === 'string' && f[0].startsWith('/') && (typeof f[1] === 'string' || f[1] instanceof Uint8Array));
  if (!ok) throw new BadRequest("preBootFiles must be a list of [absolute path, string or bytes] pairs, e.g. [['/etc/motd', 'hello']]");
  return files.map(([path, data]) => [path, typeof data === 'string' ? Buffer.from(data) : data]);
}

// #16
function checkStartupWait(opts: SpawnOptions): void {
  if (opts.waitFor !== undefined && typeof (opts.waitFor as Partial<WaitStrategy>)?.holds$ !== 'function') {
    throw new BadRequest('waitFor must be a wait strategy, e.g. Wait.forLogMessage(/ready/)');
  }
  const t = opts.startupTimeoutMs;
  if (t !== undefined && (!Number.isInteger(t) || t < 1)) throw new BadRequest(`startupTimeoutMs must be a whole number of ms, at least 1 (got ${t})`);
}
