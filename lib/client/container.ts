/**
 * A container of this session. Its status, output and termination are observables projected from
 * the session's state and event stream; its actions are requests to the location.
 */
import {
  BehaviorSubject, ReplaySubject, filter, first, firstValueFrom, map, distinctUntilChanged, share, takeUntil, takeWhile, skipWhile,
  type Observable,
} from 'rxjs';
import {
  BadRequest, ContainerNotRunning, SpawnFailed, errorFromWire,
  type ContainerInfo, type ContainerStatus, type ContainerStats, type OutputStream, type PullProgress,
} from '../protocol';
import type { SessionContext } from './session-context';
import type { Node } from './node';
import { Tunnel, type TunnelOptions } from './tunnel';
import { Process, type ProcessOptions } from './process';
import { SshServer, type SshServerOptions } from './ssh-server';
import { fetchFile, putFile } from './file-transfer';
import type { ExternalContainer } from './external-container';
import { followLogs, readLogs, type LogEntry, type LogOptions, type LogReadOptions } from './container-logs';
import { containerStats$ } from './container-stats';
import { DEFAULT_STARTUP_TIMEOUT_MS, untilHolds, type WaitStrategy, type WaitTarget } from './wait';

/** What `runProcess` resolves with. */
export interface ProcessResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Options of `Container.waitHttp200`. */
export interface WaitHttpOptions {
  /** Container port; default 80. */
  port?: number;
  /** Sent as the Host header; default 'localhost'. */
  fqdn?: string;
  /** Default '/'. */
  path?: string;
  /** Seconds before giving up with ConnectFailed; default 60. */
  timeout?: number;
}

/** A piece of the main process's output, marked with the stream it came from. */
export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

/** View the received bytes as a Buffer without copying them. */
const asBuffer = (bytes: Uint8Array | undefined) =>
  bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.alloc(0);

const isTerminal = (s: ContainerStatus) => s === 'exited' || s === 'destroyed';

/**
 * A container spawned by this session, from `Node.spawnContainer`. Its state (`status$`) is
 * live; it runs processes, serves tunnels and SSH, transfers files, and is destroyed with the
 * session unless destroyed before.
 *
 * @example
 * ```ts
 * const box = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
 * await box.ready();
 * const { stdout, exitCode } = await box.runProcess(['uname', '-a']);
 * await using tunnel = await box.attachTunnel(80, { localPort: 8080 });
 * ```
 */
export class Container {
  /** Status as it changes: spawning → running → exited / destroyed. Replays the current one. */
  readonly status$: Observable<ContainerStatus>;
  /**
   * Hot: the main process's output as it arrives; completes when the process has ended. A chunk may
   * join several writes of the process (the location sends what came within 10 ms as one): split
   * it with `lines()`, never assume one chunk per write.
   */
  readonly stdout$: Observable<OutputChunk>;
  /**
   * The main process's exit code, once, then complete; late subscribers still get it. Errors with
   * the reason (e.g. ImageNotFound, NodeGone) when the container ended without an exit code.
   */
  readonly termination$: Observable<number>;
  /** Every change to what the location reports about this container. Replays the current one. */
  readonly info$: Observable<ContainerInfo>;
  /**
   * #16: resource use (cpu %, memory used and limit, network and block I/O bytes) about once a
   * second while it runs. Hot and shared: sampling runs only while someone subscribes.
   */
  readonly stats$: Observable<ContainerStats>;

  private readonly infoSubject: BehaviorSubject<ContainerInfo>;
  /** The spawn-time wait strategy's verdict, once it is running (#16); ready() awaits it. */
  private startupHeld?: Promise<void>;

  /** @internal Use `Node.spawnContainer`. */
  constructor(
    private readonly ctx: SessionContext,
    readonly node: Node,
    initial: ContainerInfo,
  ) {
    this.infoSubject = new BehaviorSubject(initial);
    this.info$ = this.infoSubject.asObservable();
    // Follow this container's slice of state until it is destroyed; keep the last value after.
    const slice = ctx.state$.pipe(
      map((s) => s.containers.get(this.id)),
      filter((c): c is ContainerInfo => c !== undefined),
      distinctUntilChanged(),
    );
    const follow = slice.subscribe((info) => {
      this.infoSubject.next(info);
      if (info.status === 'destroyed') {
        // Destroyed is final: stop following, but keep replaying the last info to late subscribers.
        ctx.handles.containers.delete(this.id);
        queueMicrotask(() => follow?.unsubscribe());
      }
    });
    this.status$ = this.info$.pipe(
      map((c) => c.status),
      distinctUntilChanged(),
      takeWhile((s) => s !== 'destroyed', true),
    );
    const ended$ = this.info$.pipe(first((c) => isTerminal(c.status)));
    this.termination$ = ended$.pipe(
      map((c) => {
        if (c.exitCode !== undefined) return c.exitCode;
        throw c.error ? errorFromWire(c.error) : new SpawnFailed(`container ${this.id} ended without an exit code`);
      }),
    );
    this.stdout$ = ctx.events.of('container', this.id).pipe(
      map((e) => ({ stream: e.params.stream, data: asBuffer(e.bulk) })),
      takeUntil(ended$),
      share(),
    );
    this.stats$ = containerStats$(ctx, initial.id, () => this.running());
    // #19: subscribed from the start (the spawn request goes out later), replayed to late subscribers.
    const pulls = new ReplaySubject<PullProgress>(1);
    ctx.events.of('pull', this.id).pipe(map((e) => e.params.progress), takeUntil(this.info$.pipe(first((c) => c.status !== 'spawning')))).subscribe(pulls);
    this.pull$ = pulls.asObservable();
  }

  /**
   * #19: progress of the node's pull of this container's image from its registry, per layer and
   * in total (the latest value replayed); completes once the container runs or failed. Emits
   * nothing when no pull was needed.
   */
  readonly pull$: Observable<PullProgress>;

  /** What the state says about it now (the last it said, once the state forgot it). */
  get info(): ContainerInfo {
    return this.ctx.state$.value.containers.get(this.id) ?? this.infoSubject.value;
  }
  get id(): string {
    return this.infoSubject.value.id;
  }
  get image(): string {
    return this.info.image;
  }
  get tag(): string | undefined {
    return this.info.tag;
  }
  get status(): ContainerStatus {
    return this.info.status;
  }
  get privateIp(): string | undefined {
    return this.info.privateIp;
  }
  /** `uuid:tag`, or just the id when untagged. */
  get displayName(): string {
    return this.tag ? `${this.id}:${this.tag}` : this.id;
  }

  /**
   * Resolves when the container is running and, when it was spawned with `waitFor`, once that
   * strategy holds; rejects with the reason if it could not start, or with StartupTimeout.
   */
  async ready(): Promise<this> {
    await this.running();
    await this.startupHeld;
    return this;
  }

  /** @internal Resolves when the main process runs, without waiting for the startup strategy. */
  async running(): Promise<this> {
    const info = await firstValueFrom(this.info$.pipe(skipWhile((c) => c.status === 'spawning')), {
      defaultValue: this.info,
    });
    if (info.status === 'running' || (info.status === 'exited' && !info.error)) return this;
    throw info.error ? errorFromWire(info.error) : new ContainerNotRunning(`container ${this.id} is ${info.status}`);
  }

  /** The original's name for `ready()`. */
  waitUntilReady(): Promise<this> {
    return this.ready();
  }

  /** Wake a container spawned with `sleep: true`: its real main process starts. */
  async start(): Promise<void> {
    await this.ready();
    await this.ctx.connection.request('start_container', { container: this.id });
  }

  /** Write to the main process's stdin (spawn with `stdin: true`). */
  stdin(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.ctx.connection.send('container_stdin', { container: this.id }, bytes);
  }

  /** Listen on a local port and relay each connection to `port` in this container. */
  async attachTunnel(port: number, opts: TunnelOptions = {}): Promise<Tunnel> {
    await this.ready();
    const tunnel = await Tunnel.open(this.ctx, this, port, opts);
    this.ctx.handles.tunnels.set(tunnel.id, tunnel);
    // Tunnels die with their container.
    this.status$.pipe(first((s) => s === 'destroyed')).subscribe(() => void this.destroyTunnel(tunnel, false));
    return tunnel;
  }

  /** Close a tunnel of this container; resolves once closed. */
  async destroyTunnel(tunnel: Tunnel, tellLocation = true): Promise<void> {
    if (tunnel.container !== this || !this.ctx.handles.tunnels.delete(tunnel.id)) return;
    await tunnel.close(tellLocation);
  }

  /** This container's open tunnels (as the state says). */
  allTunnels(): Tunnel[] {
    return this.owned(this.ctx.state$.value.tunnels, this.ctx.handles.tunnels);
  }

  /**
   * Run `command` through `sh -c` inside the container (an argv list is quoted for you). Returns at
   * once; subscribe to `output$` / `stderr$` straight away to see everything. Processes run while
   * the container sleeps too, and end when it is destroyed or rebooted.
   */
  spawnProcess(command: string | string[], opts: ProcessOptions = {}): Process {
    return this.track(new Process(this.ctx, this, commandLine(command), {
      tty: !!opts.tty, echo: !!opts.tty && !!opts.echo, size: opts.tty ? opts.size : undefined, user: opts.user, workdir: opts.workdir, env: opts.env,
    }));
  }

  /** Run `command` to its end: its whole stdout and stderr, and its exit code. */
  async runProcess(command: string | string[], opts: Pick<ProcessOptions, 'user' | 'workdir' | 'env'> = {}): Promise<ProcessResult> {
    const process = this.spawnProcess(command, opts);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    process.output$.subscribe((b) => stdout.push(b));
    process.stderr$.subscribe((b) => stderr.push(b));
    const exitCode = await process.wait();
    return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitCode };
  }

  /**
   * An interactive login shell on a pty (bash, ash or sh, whichever the image has). Echo is off
   * unless asked for, so a program driving it reads only the shell's output; a terminal wants it on.
   */
  spawnShell(opts: { echo?: boolean; size?: { cols: number; rows: number } } = {}): Process {
    return this.track(new Process(this.ctx, this, undefined, { tty: true, echo: !!opts.echo, size: opts.size }));
  }

  /** Kill a process and everything it started; resolves once it ended. */
  async destroyProcess(process: Process): Promise<void> {
    if (process.container !== this) throw new BadRequest(`process ${process.id} belongs to container ${process.container.id}, not ${this.id}`);
    await process.destroy();
  }

  /** This container's processes that have not ended (as the state says). */
  allProcesses(): Process[] {
    return this.owned(this.ctx.state$.value.processes, this.ctx.handles.processes);
  }

  /**
   * A local SSH server into this container: `ssh -p PORT root@localhost [command]` runs commands
   * or a shell in it, `sftp -P PORT root@localhost` works on its files. Any user name, no password,
   * so it listens on 127.0.0.1 unless `bind` says otherwise. Port 0 (the default) picks a free one
   * (see `server.port`); a port in use is PortInUse. Stops with the container or the session.
   */
  async createSshServer(port = 0, opts: SshServerOptions = {}): Promise<SshServer> {
    await this.ready();
    const { ctx } = this;
    const server = await SshServer.open(this, port, opts, ctx.log, () => {
      ctx.handles.sshServers.delete(server.id);
      ctx.dispatch({ type: 'ssh_server_removed', server: server.id });
    });
    ctx.handles.sshServers.set(server.id, server);
    ctx.dispatch({ type: 'ssh_server_added', server: { id: server.id, container: this.id, bind: server.bind, port: server.port } });
    // SSH servers die with their container, and with the session.
    this.status$.pipe(first((s) => s === 'destroyed')).subscribe(() => void this.destroySshServer(server));
    void this.ctx.connection.closed.then(() => this.destroySshServer(server));
    return server;
  }

  /** Stop an SSH server of this container and end its connections; resolves once it is closed. */
  async destroySshServer(server: SshServer): Promise<void> {
    await server.stop();
  }

  /** This container's SSH servers that have not been stopped (as the state says). */
  allSshServers(): SshServer[] {
    return this.owned(this.ctx.state$.value.sshServers, this.ctx.handles.sshServers);
  }

  /** The bytes of the regular file at absolute `path`; FileNotFound when there is none. */
  async fetch(path: string): Promise<Buffer> {
    await this.ready();
    return fetchFile(this.ctx, this.id, path);
  }

  /** Create or replace the file at absolute `path` (parent folders are created). Strings are UTF-8. */
  async put(path: string, data: string | Uint8Array): Promise<void> {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new BadRequest('put needs a string, Buffer or Uint8Array');
    await this.ready();
    await putFile(this.ctx, this.id, path, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Resolves once something accepts TCP connections on `port`; ConnectFailed after `timeout` s (default 60). */
  async waitTcp(port: number, opts: { timeout?: number } = {}): Promise<void> {
    await this.ready();
    const timeout = opts.timeout ?? 60;
    await this.ctx.connection.request('wait_tcp', { container: this.id, port, timeout }, (timeout + 10) * 1000);
  }

  /**
   * Resolves once `GET path` on `port`, with `Host: fqdn`, answers 200; ConnectFailed after the
   * timeout. The location asks the container directly, so no local port is used.
   */
  async waitHttp200(opts: WaitHttpOptions = {}): Promise<void> {
    await this.ready();
    const { port = 80, fqdn = 'localhost', path = '/', timeout = 60 } = opts;
    await this.ctx.connection.request('wait_http_200', { container: this.id, port, fqdn, path, timeout }, (timeout + 10) * 1000);
  }

  /**
   * Let `other` (a container of this session, or an external container of yours) open connections
   * to this one over their private addresses; containers cannot reach each other otherwise.
   * One-way, as in the original SDK: replies flow back, but this container gains no way to open
   * connections to `other` (call `other.allowConnectionFrom(this)` for that). Waits for both to run.
   */
  async allowConnectionFrom(other: Container | ExternalContainer): Promise<void> {
    await this.ready();
    if (other instanceof Container) await other.ready();
    await this.ctx.connection.request('allow_connection', { container: this.id, from: other.id });
  }

  /** Take `allowConnectionFrom(other)` back: `other` can open no new connections to this container. */
  async disallowConnectionFrom(other: Container | ExternalContainer): Promise<void> {
    await this.ctx.connection.request('disallow_connection', { container: this.id, from: other.id });
  }

  // #16: waits and log history.

  /** @internal Node.spawnContainer: `ready()` resolves only once `strategy` holds. */
  startWaiting(strategy: WaitStrategy, timeoutMs = DEFAULT_STARTUP_TIMEOUT_MS): void {
    const held$ = this.waitFor$(strategy, { timeoutMs });
    this.startupHeld = this.running().then(() => firstValueFrom(held$));
    this.startupHeld.catch(() => undefined); // reported through ready(), not as an unhandled rejection
  }

  /**
   * Resolves once `strategy` (see `Wait`) holds; rejects with StartupTimeout after `timeoutMs`
   * (default 60 s), or when the container ends first, with its last output lines.
   */
  async waitFor(strategy: WaitStrategy, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.running();
    await firstValueFrom(this.waitFor$(strategy, opts));
  }

  /** `waitFor` as a cold Observable: emits once and completes when `strategy` holds. */
  waitFor$(strategy: WaitStrategy, opts: { timeoutMs?: number } = {}): Observable<void> {
    const target: WaitTarget = {
      id: this.id,
      logs$: (o) => this.logs$(o),
      runProcess: (command) => this.runProcess(command),
      request: (command, params, timeoutMs) => this.ctx.connection.request(command, params, timeoutMs),
    };
    const ended$ = this.info$.pipe(
      first((c) => isTerminal(c.status)),
      map((c) => (c.exitCode === undefined ? `it was ${c.status}` : `its main process exited with ${c.exitCode}`)),
    );
    const lastLines = (n: number) => this.logs({ tail: n }).then((lines) => lines.map((l) => `${l.stream === 'stderr' ? '[stderr] ' : ''}${l.text}`));
    return untilHolds(target, strategy, opts.timeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS, ended$, lastLines);
  }

  /**
   * The main process's past output, kept by the location while the container exists (bounded:
   * 1 MiB or 10 000 lines by default, oldest first out), also after it exited.
   */
  async logs(opts: LogReadOptions = {}): Promise<LogEntry[]> {
    await this.running().catch(() => undefined);
    return readLogs(this.ctx, this.id, opts);
  }

  /**
   * Cold: the kept output (as `tail` and `since` select), then every new line as it comes, so a
   * late subscriber misses nothing; completes when the main process ends.
   */
  logs$(opts: LogOptions = {}): Observable<LogEntry> {
    return followLogs(this.ctx, this.id, opts, () => this.running());
  }

  /**
   * Restart in place, keeping the id, tunnels and files; with `resetFilesystem`, files go back to
   * how they were at first boot (the image plus pre-boot files). `status$` goes through
   * `spawning`; resolves once it runs again. Its processes end.
   */
  async reboot(opts: { resetFilesystem?: boolean } = {}): Promise<void> {
    await this.ready();
    await this.ctx.connection.request('reboot_container', { container: this.id, resetFilesystem: !!opts.resetFilesystem }, 300_000);
    await this.ready();
  }

  private track(process: Process): Process {
    const forget = () => this.ctx.handles.processes.delete(process.id);
    this.ctx.handles.processes.set(process.id, process);
    process.termination$.subscribe({ complete: forget, error: forget });
    return process;
  }

  /** The handles of the state's entries that belong to this container. */
  private owned<H>(slice: Readonly<Record<string, { id: string; container: string }>>, handles: ReadonlyMap<string, H>): H[] {
    const out: H[] = [];
    for (const entry of Object.values(slice)) {
      const handle = entry.container === this.id ? handles.get(entry.id) : undefined;
      if (handle) out.push(handle);
    }
    return out;
  }
}

/** A command line for `sh -c`: strings as they are, argv lists single-quoted word by word. */
function commandLine(command: string | string[]): string {
  if (typeof command === 'string' && command.trim() !== '') return command;
  if (Array.isArray(command) && command.length > 0 && command.every((w) => typeof w === 'string')) {
    return command.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  }
  throw new BadRequest("a process needs a command: a string for sh -c, or a non-empty list of strings");
}
