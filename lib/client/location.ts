/**
 * A session with a location: the entry point of the SDK. The connection's events are folded into
 * one immutable `state$`; nodes, containers and tunnels are projections of it.
 */
import { BehaviorSubject, Observable, Subject, distinctUntilChanged, filter, firstValueFrom, map, type Observer, type Subscription } from 'rxjs';
import { BadRequest, NoNodes, NotFound, errorToWire, type TfnzError, type EventOf, type VolumeInfo, type PullPolicy, type PullProgress, type RegistryAuth } from '../protocol';
import { TaggedCollection } from '../shared/tagged-collection';
import { allLocations, defaultLocation, loadAccount, signChallenge } from './accounts';
import { Volume } from './volume';
import { ExternalContainer } from './external-container';
import { WebEndpoint } from './web-endpoint';
import type { EmbeddedLocation } from './embedded';
import { UserContainer, type UserContainerInfo } from './user-container';
import { findByKey } from '../shared/container-key';
import { Connection } from './connection';
import { isLoopback } from '../protocol/loopback';
import { embeddedAccount, startEmbeddedLocation } from './embedded';
import { makeLogger, type Logger } from './log';
import { rankNodes } from './ranking';
import { reduce } from './reducer';
import { initialState, type LocalAction, type LocationState } from './state';
import { TunnelRouter } from './tunnel-router';
import { dialDataConnection } from './data-connection';
import { EventRouter } from './event-router';
import { Node, liveContainers } from './node';
import { Container } from './container';
import type { HandleCache, SessionContext } from './session-context';
import { LocalEngine } from './local-engine';
import { onProcessSignals } from './signals';
import { uploadImage, type UploadProgress } from './image-upload';
import { nanoid } from 'nanoid';
import { parseImageReference } from '../shared/registry-reference';
import { registryCredentials, type RegistryAuthSources } from './registry-auth';
import { buildImage, type BuildOptions, type BuildProgress, type BuiltImage } from './image-build';
import { networkStackId } from '../shared/network-stack';
import { reachesDirectly, type DirectReach } from './direct-reach';

export const DEFAULT_PORT = 2020;

export interface ConnectOptions {
  /**
   * Location to use: `host`, `host:port` (wss://, or ws:// for a loopback host), or a `wss://` or
   * `ws://` URL (ws:// only on loopback unless `insecure`). Default: $TFNZ_LOCATION, else embedded.
   */
  location?: string;
  /**
   * Trust the location's certificate when this CA (PEM text or file) issued it. Without it the
   * certificate seen first is pinned in ~/.tfnz/known_locations and must stay the same.
   * Default $TFNZ_TLS_CA.
   */
  tlsCa?: string;
  /** Allow plain ws:// to a host that is not loopback: nothing then protects the session on the way. */
  insecure?: boolean;
  /** Dial this address instead of resolving the location's host name. */
  locationIp?: string;
  /** No log lines at all. */
  quiet?: boolean;
  /** Log every frame too. */
  debug?: boolean;
  /** Called with each node that appears after connecting (an adapter over `nodeArrivals$`). */
  newNodeCallback?: (node: Node) => void;
  /** Abort connecting, at any point (dialling, the handshake, the resource offer): rejects with its reason. */
  signal?: AbortSignal;
  /**
   * End the session cleanly on Ctrl-C or SIGTERM (disconnect, then let the signal end the program
   * as it would have): default false, so a Location installs no process signal listener unless
   * asked. `run()` handles them while it runs, whatever this says. One listener per signal serves
   * every session of the process.
   */
  handleSignals?: boolean;
  /** How often the connection is checked for life, in ms (two silent checks drop it); default 10 000. */
  heartbeatMs?: number;
  /** Default time a request may wait for its reply, in ms; default 60 000. */
  requestTimeoutMs?: number;
  /**
   * The Docker Engine on this machine that images are uploaded from: an address (unix://, tcp://,
   * https://), or false for none. Default $DOCKER_HOST, else unix:///var/run/docker.sock.
   */
  localEngine?: string | false;
  // #19
  /**
   * Credentials for image registries the nodes pull from, by registry host (`'127.0.0.1:5443'`,
   * `'docker.io'`): `{ username, password }`. They travel to the location with a spawn or pull of
   * an image of that registry only, and are never kept there. Registries not named here get the
   * credentials `docker login` left in your Docker config (see `dockerConfig`).
   */
  registryAuth?: Record<string, RegistryAuth>;
  /** The Docker config directory whose `auths` are read for registry credentials; false for none. Default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfig?: string | false;
  /**
   * Let the kernel forward direct tunnels (see `directTunnels`; a DNAT rule per tunnel, as Docker
   * publishes ports without its userland proxy) where this process may change the packet filter:
   * root, `iptables` and `ss` present, the tunnel bound to an IPv4 loopback address. Default true
   * unless $TFNZ_KERNEL_TUNNELS is `0`; false relays every direct tunnel's bytes in this process.
   */
  kernelTunnels?: boolean;
  /**
   * Let tunnels connect straight to their container (relayed by a thread of this process, or
   * forwarded by the kernel, see `kernelTunnels`) where this process reaches it as the location
   * does: the embedded location, or one on this machine in the same network namespace (a
   * `tfnz location` daemon) for containers of its local engines. The location still keeps every
   * tunnel's record (quotas, state, destroy). Default true unless $TFNZ_DIRECT_TUNNELS is `0`;
   * false carries every tunnel's bytes through the location (`Tunnel.path` says 'location').
   */
  directTunnels?: boolean;
}

/** Options of `Location.pullImage$`. */
export interface PullImageOptions {
  /** The node that pulls; default the one with the most spare capacity (`loc.node()`). */
  node?: Node;
  /** `missing` (default): only when the node lacks it; `always`: pull again; `never`: only check it is there. */
  policy?: PullPolicy;
}

/**
 * A session at a location: the entry point of the SDK. `Location.connect()` opens it (with no
 * location configured, on an embedded location over the local Docker Engine, which needs the
 * optional `dockerode` and `tar-stream` packages); its state is live (`state$`, `nodes$`, …); it
 * spawns containers on its nodes and ends with `disconnect()` or an `await using` block, taking
 * the session's containers and tunnels with it.
 *
 * @example
 * ```ts
 * import { Location } from 'tfnz';
 *
 * await using loc = await Location.connect();
 * const web = loc.node().spawnContainer('nginx');
 * await web.waitHttp200();
 * await using tunnel = await web.attachTunnel(80, { localPort: 8080 });
 * ```
 */
export class Location implements AsyncDisposable {
  /** The whole immutable state, replaying the current one. */
  readonly state$: Observable<LocationState>;
  /** Each slice below replays its current value and emits only when that slice changed. */
  readonly nodes$: Observable<LocationState['nodes']>;
  /** This session's containers by id (a ReadonlyMap, recently destroyed ones included). */
  readonly containers$: Observable<LocationState['containers']>;
  readonly volumes$: Observable<LocationState['volumes']>;
  readonly externals$: Observable<LocationState['externals']>;
  readonly tunnels$: Observable<LocationState['tunnels']>;
  readonly processes$: Observable<LocationState['processes']>;
  readonly sshServers$: Observable<LocationState['sshServers']>;
  readonly endpoints$: Observable<LocationState['endpoints']>;
  /** Hot: each node that appears after connecting. */
  readonly nodeArrivals$: Observable<Node>;
  /** Hot: errors the location reported about one-way messages (bad stdin target, …). */
  readonly errors$: Observable<EventOf<'error'>>;
  /** Hot: the progress of every image upload of this session, explicit or implied by a spawn. */
  readonly uploads$: Observable<UploadProgress>;

  private readonly store = new BehaviorSubject<LocationState>(initialState);
  private readonly ctx: SessionContext;
  private readonly nodes = new Map<string, Node>();
  private readonly volumeHandles = new Map<string, Volume>();
  private readonly completed = new Subject<void>();
  private readonly subscriptions: Subscription[] = [];
  private disconnecting?: Promise<void>;
  private running = false;
  private readonly uploads = new Subject<UploadProgress>();
  /** Uploads in progress by image name, so concurrent spawns of one image share one upload. */
  private readonly uploading = new Map<string, Promise<string[]>>();
  /** What decides whether a tunnel skips the location (direct-reach.ts); the location's stack is known once the session opens. */
  private readonly reach: DirectReach;
  /** Stops signals reaching this session (handleSignals); see signals.ts. */
  private stopSignals?: () => void;
  /**
   * Ctrl-C or SIGTERM, when asked for: inside `run()` it makes run() return; otherwise the session
   * is disconnected and the signal raised again (by signals.ts), so the program still ends as it
   * would have (unless it handles the signal itself).
   */
  private readonly onSignal = async (): Promise<boolean> => {
    if (this.running) {
      this.complete();
      return true;
    }
    await this.disconnect();
    return false;
  };

  private constructor(
    private readonly connection: Connection,
    private readonly log: Logger,
    private readonly embedded: EmbeddedLocation | undefined,
    private readonly localEngine: LocalEngine,
    registrySources: RegistryAuthSources = {},
    kernelTunnels = true,
    directTunnels = true,
  ) {
    this.reach = { allowed: directTunnels, embedded: embedded !== undefined, ownStack: networkStackId(), locationStack: undefined };
    // Fold every event into state. Subscribed first, so state is current when a handle sees an event.
    this.subscriptions.push(connection.events$.subscribe((e) => this.fold(e)));
    const events = new EventRouter(connection.events$);
    const handles: HandleCache = { containers: new Map(), processes: new Map(), tunnels: new Map(), sshServers: new Map() };
    this.ctx = {
      connection,
      state$: this.store,
      dispatch: (action: LocalAction) => this.fold(action),
      log,
      events,
      tunnels: new TunnelRouter(events),
      directTunnelsTo: (node) => reachesDirectly(this.reach, this.store.value.nodes[node]),
      kernelTunnels,
      handles,
      nodeHandle: (id) => this.nodeHandle(id),
      containerHandle: (id) => this.containerHandle(id),
      localImageId: async (name) => (await localEngine.image(name))?.id,
      ensureUploaded: (name) => this.ensureImageUploaded(name),
      registryAuthFor: (image) => {
        let registry: string;
        try {
          registry = parseImageReference(image).registry;
        } catch {
          return undefined; // not a reference (an image id): nothing to pull
        }
        return registryCredentials(registry, registrySources);
      },
    };
    this.uploads$ = this.uploads.asObservable();
    this.state$ = this.store.asObservable();
    const slice = <K extends keyof LocationState>(key: K) => this.store.pipe(map((s) => s[key]), distinctUntilChanged());
    this.nodes$ = slice('nodes');
    this.containers$ = slice('containers');
    this.volumes$ = slice('volumes');
    this.externals$ = slice('externals');
    this.tunnels$ = slice('tunnels');
    this.processes$ = slice('processes');
    this.sshServers$ = slice('sshServers');
    this.endpoints$ = slice('endpoints');
    this.nodeArrivals$ = connection.events$.pipe(
      filter((e): e is EventOf<'node_created'> => e.event === 'node_created'),
      map((e) => this.nodeHandle(e.params.node.id)),
    );
    this.errors$ = connection.events$.pipe(filter((e): e is EventOf<'error'> => e.event === 'error'));
    this.subscriptions.push(this.errors$.subscribe((e) => log.info(`location reported: ${e.params.error.message}`)));
    this.subscriptions.push(
      connection.link$.subscribe((link) => {
        log.info(link === 'lost' ? 'lost the connection to the location; resuming' : 'connection resumed');
      }),
    );
    // A session that ends without a goodbye took its containers with it: say so on every one.
    void connection.closed.then((reason) => reason && this.fold({ type: 'session_lost', error: errorToWire(reason) }));
  }

  /**
   * Open a session. Resolves once the location's resource offer has been folded into `state`.
   * With no location configured, starts an embedded one on the local Docker Engine.
   */
  static async connect(opts: ConnectOptions = {}): Promise<Location> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const log = makeLogger(opts);
    const target = opts.location ?? process.env.TFNZ_LOCATION ?? defaultLocation();
    // Every step races the abort signal; what a step still makes after an abort is closed below.
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => (onAbort = () => reject(signal!.reason)));
    aborted.catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    const step = <T>(work: Promise<T>): Promise<T> => (signal ? Promise.race([work, aborted]) : work);
    let starting: Promise<EmbeddedLocation> | undefined;
    let opening: Promise<Connection> | undefined;
    let loc: Location | undefined;
    try {
      let url: string;
      if (!target || target === 'embedded') {
        starting = startEmbeddedLocation((line) => log.debug(`[location] ${line}`));
        url = (await step(starting)).url;
      } else {
        url = locationUrl(target, opts.locationIp);
      }
      const link = { tlsCa: opts.tlsCa ?? process.env.TFNZ_TLS_CA, insecure: opts.insecure };
      opening = Connection.open(url, {
        requestTimeoutMs: opts.requestTimeoutMs,
        heartbeatMs: opts.heartbeatMs,
        link,
        trace: opts.debug ? (dir, line) => log.debug(`${dir === 'in' ? '<-' : '->'} ${line}`) : undefined,
      });
      const connection = await step(opening);
      loc = new Location(connection, log, await starting, LocalEngine.fromEnvironment(opts.localEngine), { registryAuth: opts.registryAuth, dockerConfig: opts.dockerConfig },
        opts.kernelTunnels ?? process.env.TFNZ_KERNEL_TUNNELS !== '0', opts.directTunnels ?? process.env.TFNZ_DIRECT_TUNNELS !== '0');
      if (opts.newNodeCallback) loc.subscriptions.push(loc.nodeArrivals$.subscribe(opts.newNodeCallback));
      const store = loc.store;
      const offered = firstValueFrom(store.pipe(filter((s) => s.session !== undefined)));
      offered.catch(() => undefined);
      // The embedded location gets a local account on first use; a remote one needs `tfnz account create`.
      const account = starting ? embeddedAccount() : loadAccount(target!);
      const nonce = await step(Promise.race([connection.challenge, connection.closed.then(() => undefined)]));
      const proof = account && nonce ? signChallenge(account, nonce, connection.channelBinding) : undefined;
      const session = await step(connection.request('open_session', { client: 'tfnz-js', key: account?.publicKey, proof }));
      loc.reach.locationStack = session.networkStack;
      if (session.dataConnections) {
        loc.ctx.dialData = (conn, secret, received) => dialDataConnection(url, link, { session: session.session, conn, secret, received });
      }
      connection.enableResume({
        session: session.session,
        sign: (again, binding) => (account ? { key: account.publicKey, proof: signChallenge(account, again, binding) } : {}),
      });
      await step(offered);
      if (opts.handleSignals) loc.stopSignals = onProcessSignals(loc.onSignal);
      log.info(`connected to location '${session.location}' (${starting ? 'embedded, ' : ''}${url}) as session ${session.session}`);
      return loc;
    } catch (err) {
      // Nothing stays behind: no socket, timer or subscription, no embedded location.
      if (loc) await loc.abandon();
      else void opening?.then((c) => c.close(), () => undefined);
      await starting?.then((e) => e.close(), () => undefined);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Names of the locations this machine holds an account for (see `tfnz account create`). */
  static allLocations(): string[] {
    return allLocations();
  }

  /** The WebSocket URL this session talks to (the embedded location's loopback one included). */
  get url(): string {
    return this.connection.url;
  }

  get state(): LocationState {
    return this.store.value;
  }

  /** The node with the most spare capacity. */
  node(): Node {
    const best = this.rankedNodes()[0];
    if (!best) throw new NoNodes('the location has no live nodes');
    return best;
  }

  /** This session's containers that are not destroyed, on every node. */
  allContainers(): Container[] {
    return liveContainers(this.ctx, () => true);
  }

  /** Live nodes, best first: free cpu + memory − 10 × paging. */
  rankedNodes(): Node[] {
    return rankNodes(Object.values(this.state.nodes)).map((n) => this.nodeHandle(n.id));
  }

  /** A persistent volume; `tag` (unique per user) makes it findable by name in later sessions. */
  async createVolume(opts: { tag?: string; asynchronous?: boolean } = {}): Promise<Volume> {
    const { volume } = await this.connection.request('create_volume', { tag: opts.tag, asynchronous: opts.asynchronous });
    return this.volumeHandle(volume);
  }

  /** The volume for `key` (uuid, tag or uuid:tag); a missing one is created with `key` as its tag. */
  async ensureVolume(key: string): Promise<Volume> {
    return this.findVolume(key) ?? this.createVolume({ tag: key });
  }

  /** The volume for `key`: a uuid, a tag or uuid:tag. NotFound when there is none. */
  volume(key: string): Volume {
    const found = this.findVolume(key);
    if (!found) throw new NotFound(`no volume '${key}'; create it with loc.createVolume({ tag: '${key}' }) or loc.ensureVolume('${key}')`);
    return found;
  }

  /** Every volume of this user at the location. */
  allVolumes(): Volume[] {
    return Object.values(this.state.volumes).map((v) => this.volumeHandle(v));
  }

  /** A tagged container of another of your sessions, by uuid, tag or uuid:tag. NotFound when none runs. */
  externalContainer(key: string): ExternalContainer {
    const id = this.findTagged(this.state.externals, key);
    if (!id) throw new NotFound(`no running tagged container '${key}' in your other sessions`);
    return new ExternalContainer(this.state.externals[id], this.ctx);
  }

  /**
   * #20: your containers in all of your sessions at the location (never another user's), as
   * `tfnz ps` lists them; `all` includes the ones whose main process ended.
   */
  async userContainers(opts: { all?: boolean } = {}): Promise<UserContainerInfo[]> {
    return (await this.connection.request('user_containers', { all: opts.all })).containers;
  }

  /**
   * #20: one of your containers in whichever of your sessions, by uuid, tag, uuid:tag or a unique
   * start of its uuid. ContainerNotFound when you have none of that name.
   */
  async userContainer(key: string): Promise<UserContainer> {
    return new UserContainer(this.ctx, findByKey(await this.userContainers({ all: true }), key, (c) => c));
  }

  /** #20: whether this session is on an embedded location (one that ends with this program). */
  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /**
   * #20: leave this session at the location without a client (`tfnz run -d`): its containers keep
   * running until each is removed (`UserContainer.remove`, `tfnz rm`); the session ends with the
   * last; its published sites stay. Tunnels and SSH servers (local to this program) end. Not on an embedded location,
   * which ends with this program.
   */
  async detach(): Promise<void> {
    if (this.isEmbedded) throw new BadRequest('an embedded location ends with this program, so nothing can be left running on it; start one with `tfnz location` and pass --location (or set TFNZ_LOCATION)');
    await this.connection.request('keep_session', {});
    this.stopSignals?.();
    this.disconnecting ??= Promise.resolve();
    this.completed.complete();
    this.uploads.complete();
    const { tunnels, sshServers } = this.ctx.handles;
    await Promise.all([...tunnels.values()].map((t) => t.container.destroyTunnel(t, false)));
    await Promise.all([...sshServers.values()].map((s) => s.container.destroySshServer(s)));
    this.connection.close();
    this.ctx.tunnels.stop();
    for (const sub of this.subscriptions) sub.unsubscribe();
  }

  /**
   * The WebEndpoint whose domain serves `fqdn` (the longest matching domain). NotFound when this
   * location serves no domain for it.
   */
  endpointFor(fqdn: string): WebEndpoint {
    const found = Object.values(this.state.endpoints)
      .map((info) => new WebEndpoint(info, this.ctx))
      .filter((e) => e.serves(fqdn))
      .sort((a, b) => b.domain.length - a.domain.length)[0];
    if (!found) throw new NotFound(`this location serves no domain for ${fqdn}; it serves: ${Object.keys(this.state.endpoints).join(', ') || 'none'}`);
    return found;
  }

  /** Destroy a volume and its data. VolumeInUse while a container mounts it. */
  async destroyVolume(volume: Volume | string): Promise<void> {
    await this.connection.request('destroy_volume', { volume: typeof volume === 'string' ? volume : volume.id });
  }

  /**
   * Make `image` (a name or id in your local Docker Engine) present in the location's cache, sending
   * only the layers it lacks, and record it under that name for you. Spawning does this by itself
   * when the node cannot run the image; call it to upload ahead of time or to watch the progress.
   * Resolves with the image's layer digests. ImageNotFound when the local engine lacks the image.
   */
  async ensureImageUploaded(image: string, opts: { progress$?: Partial<Observer<UploadProgress>> } = {}): Promise<string[]> {
    let running = this.uploading.get(image);
    if (!running) {
      running = uploadImage(this.ctx, this.localEngine, image, (p) => this.uploads.next(p)).finally(() => this.uploading.delete(image));
      this.uploading.set(image, running);
    }
    const progress = opts.progress$;
    if (!progress) return running;
    const sub = this.uploads$.pipe(filter((p) => p.image === image)).subscribe((p) => progress.next?.(p));
    try {
      const layers = await running;
      sub.unsubscribe();
      progress.complete?.();
      return layers;
    } catch (err) {
      sub.unsubscribe();
      progress.error?.(err);
      throw err;
    }
  }

  /** `ensureImageUploaded` as an Observable: progress while it uploads, then complete (or the error). */
  uploadImage$(image: string): Observable<UploadProgress> {
    return new Observable<UploadProgress>((subscriber) => {
      void this.ensureImageUploaded(image, { progress$: subscriber }).catch(() => undefined);
    });
  }

  /**
   * #19: pull `image` from its registry onto a node, by the node itself (never through this
   * machine), with the credentials of `connect({ registryAuth })` or your Docker config for this
   * pull only. Emits progress per layer and in total while the node pulls, then completes once the
   * image is there; errors with ImageNotFound, RegistryUnauthorized or RegistryUnreachable.
   *
   * @example
   * ```ts
   * loc.pullImage$('127.0.0.1:5443/team/app:1.2').subscribe((p) => console.log(`${p.bytesDone}/${p.bytesTotal}`));
   * ```
   */
  pullImage$(image: string, opts: PullImageOptions = {}): Observable<PullProgress> {
    return new Observable<PullProgress>((subscriber) => {
      const pull = nanoid();
      const events = this.ctx.events.of('pull', pull).subscribe((e) => subscriber.next(e.params.progress));
      void (async () => {
        if (typeof image !== 'string' || image === '') throw new BadRequest('pullImage$ needs an image reference');
        const ref = parseImageReference(image);
        const node = opts.node ?? this.node();
        await this.connection.request('pull_image', {
          pull, node: node.id, image, policy: opts.policy, registryAuth: this.ctx.registryAuthFor(ref.canonical),
        }, 3_600_000);
      })().then(
        () => {
          events.unsubscribe();
          subscriber.complete();
        },
        (err: unknown) => {
          events.unsubscribe();
          subscriber.error(err);
        },
      );
      return () => events.unsubscribe();
    });
  }

  /**
   * Build the Dockerfile in `contextDir` on a node (default: the one with the most spare
   * capacity) and record the image for you under `opts.tag`, like `docker build -t`. The context
   * is sent without what its `.dockerignore` excludes; a base image (FROM) the node lacks is
   * uploaded from your local Docker Engine first. Spawn the result by its tag on any node; other
   * users cannot. BuildFailed names the failing step with its last output; ImageNotFound when a
   * base is neither on the node nor in your local engine. Needs the optional `tar-fs` and
   * `@balena/dockerignore` packages.
   *
   * @example
   * ```ts
   * const { tag } = await loc.buildImage('./app', { tag: 'team/app:1', buildArgs: { VERSION: '2' } });
   * loc.node().spawnContainer(tag);
   * ```
   */
  async buildImage(
    contextDir: string,
    opts: BuildOptions & { node?: Node | string; progress$?: Partial<Observer<BuildProgress>> },
  ): Promise<BuiltImage> {
    const node = opts.node === undefined ? this.node().id : typeof opts.node === 'string' ? opts.node : opts.node.id;
    const progress = opts.progress$;
    try {
      const built = await buildImage(this.ctx, node, contextDir, opts, (p) => progress?.next?.(p));
      progress?.complete?.();
      return built;
    } catch (err) {
      progress?.error?.(err);
      throw err;
    }
  }

  /**
   * `buildImage` as an Observable: the build's progress (steps, output, context sent), then
   * complete once the image is recorded (or the error). Unsubscribing stops the build.
   */
  buildImage$(contextDir: string, opts: BuildOptions & { node?: Node | string }): Observable<BuildProgress> {
    return new Observable<BuildProgress>((subscriber) => {
      const stop = new AbortController();
      const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
      void this.buildImage(contextDir, { ...opts, signal, progress$: subscriber }).catch(() => undefined);
      return () => stop.abort(new Error('the build was unsubscribed'));
    });
  }

  /**
   * Run until `complete()`, `disconnect()`, Ctrl-C or SIGTERM; rejects if the session is lost.
   * Disconnects at the end, so the location collects everything the session made.
   */
  async run(): Promise<void> {
    this.running = true;
    this.stopSignals ??= onProcessSignals(this.onSignal);
    try {
      await new Promise<void>((resolve, reject) => {
        const sub = this.completed.subscribe({ complete: resolve });
        void this.connection.closed.then((reason) => {
          sub.unsubscribe();
          if (reason && !this.disconnecting) reject(reason);
          else resolve();
        });
      });
    } finally {
      this.running = false;
      await this.disconnect();
    }
  }

  /** Make `run()` return (it then disconnects). */
  complete(): void {
    this.completed.complete();
  }

  /** End the session: the location destroys its containers and tunnels (never volumes). */
  disconnect(): Promise<void> {
    this.disconnecting ??= this.doDisconnect();
    return this.disconnecting;
  }

  /** `await using loc = await Location.connect()`: disconnects when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  private async doDisconnect(): Promise<void> {
    this.stopSignals?.();
    this.completed.complete();
    this.uploads.complete();
    const { tunnels, sshServers } = this.ctx.handles;
    await Promise.all([...tunnels.values()].map((t) => t.container.destroyTunnel(t, false)));
    await Promise.all([...sshServers.values()].map((s) => s.container.destroySshServer(s)));
    if (this.connection.connected) {
      await this.connection.request('close_session', {}, 60_000).catch((err: TfnzError) => this.log.info(`closing the session: ${err.message}`));
    }
    this.connection.close();
    this.ctx.tunnels.stop();
    for (const s of this.subscriptions) s.unsubscribe();
    await this.embedded?.close();
    this.log.info('disconnected');
  }

  /** Drop a session that never finished connecting: close the connection and stop listening. */
  private async abandon(): Promise<void> {
    this.connection.close();
    this.ctx.tunnels.stop();
    for (const s of this.subscriptions) s.unsubscribe();
    this.completed.complete();
    this.uploads.complete();
  }

  private fold(action: Parameters<typeof reduce>[1]): void {
    const next = reduce(this.store.value, action);
    if (next !== this.store.value) this.store.next(next);
  }

  private findVolume(key: string): Volume | undefined {
    const id = this.findTagged(this.state.volumes, key);
    return id ? this.volumeHandle(this.state.volumes[id]) : undefined;
  }

  /** The id in a slice of this user's taggable objects that answers to a uuid, tag or uuid:tag. */
  private findTagged(slice: Readonly<Record<string, { id: string; tag?: string }>>, key: string): string | undefined {
    const user = this.state.user ?? '';
    return new TaggedCollection(Object.values(slice).map((o) => ({ ...o, user }))).find(user, key)?.id;
  }

  private volumeHandle(info: VolumeInfo): Volume {
    let v = this.volumeHandles.get(info.id);
    if (!v) this.volumeHandles.set(info.id, (v = new Volume(this.ctx, info)));
    return v;
  }

  private containerHandle(id: string): Container | undefined {
    let handle = this.ctx.handles.containers.get(id);
    if (handle) return handle;
    const info = this.state.containers.get(id);
    if (!info || info.status === 'destroyed') return undefined;
    this.ctx.handles.containers.set(id, (handle = new Container(this.ctx, this.nodeHandle(info.node), info)));
    return handle;
  }

  private nodeHandle(id: string): Node {
    let node = this.nodes.get(id);
    if (!node) this.nodes.set(id, (node = new Node(this.ctx, id)));
    return node;
  }
}

/** `host`, `host:port` or a ws(s):// URL → the URL to dial; `ip` replaces the host when given. */
export function locationUrl(location: string, ip?: string): string {
  // A bare name means TLS, except on loopback (where `tfnz location` serves ws:// by default too).
  const url = new URL(/^wss?:\/\//.test(location) ? location : `wss://${location}`);
  if (!/^wss?:\/\//.test(location) && isLoopback(url.hostname)) url.protocol = 'ws:';
  if (!url.port) url.port = String(DEFAULT_PORT);
  if (ip) url.hostname = ip.includes(':') ? `[${ip}]` : ip;
  return url.toString().replace(/\/$/, '');
}

