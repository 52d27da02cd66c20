/**
 * A container of this session. Its status, output and termination are observables projected from
 * the session's state and event stream; its actions are requests to the location.
 */
import {
  BehaviorSubject, filter, first, firstValueFrom, map, distinctUntilChanged, share, takeUntil, takeWhile, skipWhile,
  type Observable,
} from 'rxjs';
import {
  ContainerNotRunning, SpawnFailed, errorFromWire,
  type ContainerInfo, type ContainerStatus, type EventOf, type OutputStream,
} from '../protocol';
import type { SessionContext } from './session-context';
import type { Node } from './node';
import { Tunnel, type TunnelOptions } from './tunnel';

/** A piece of the main process's output, marked with the stream it came from. */
export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

/** View the received bytes as a Buffer without copying them. */
const asBuffer = (bytes: Uint8Array | undefined) =>
  bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.alloc(0);

const isTerminal = (s: ContainerStatus) => s === 'exited' || s === 'destroyed';

export class Container {
  /** Status as it changes: spawning → running → exited / destroyed. Replays the current one. */
  readonly status$: Observable<ContainerStatus>;
  /** Hot: the main process's output as it arrives; completes when the process has ended. */
  readonly stdout$: Observable<OutputChunk>;
  /**
   * The main process's exit code, once, then complete; late subscribers still get it. Errors with
   * the reason (e.g. ImageNotFound, NodeGone) when the container ended without an exit code.
   */
  readonly termination$: Observable<number>;
  /** Every change to what the location reports about this container. Replays the current one. */
  readonly info$: Observable<ContainerInfo>;

  private readonly infoSubject: BehaviorSubject<ContainerInfo>;
  private readonly tunnels = new Map<string, Tunnel>();

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
      map((s) => s.containers[this.id]),
      filter((c): c is ContainerInfo => c !== undefined),
      distinctUntilChanged(),
    );
    const follow = slice.subscribe((info) => {
      this.infoSubject.next(info);
      if (info.status === 'destroyed') {
        // Destroyed is final: stop following, but keep replaying the last info to late subscribers.
        ctx.containers.delete(this.id);
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
    this.stdout$ = ctx.connection.events$.pipe(
      filter((e): e is EventOf<'container_output'> => e.event === 'container_output' && e.params.container === this.id),
      map((e) => ({ stream: e.params.stream, data: asBuffer(e.bulk) })),
      takeUntil(ended$),
      share(),
    );
  }

  get info(): ContainerInfo {
    return this.infoSubject.value;
  }
  get id(): string {
    return this.info.id;
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

  /** Resolves when the container is running; rejects with the reason if it could not start. */
  async ready(): Promise<this> {
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
    this.tunnels.set(tunnel.id, tunnel);
    // Tunnels die with their container.
    this.status$.pipe(first((s) => s === 'destroyed')).subscribe(() => void this.destroyTunnel(tunnel, false));
    return tunnel;
  }

  async destroyTunnel(tunnel: Tunnel, tellLocation = true): Promise<void> {
    if (!this.tunnels.delete(tunnel.id)) return;
    await tunnel.close(tellLocation);
  }

  allTunnels(): Tunnel[] {
    return [...this.tunnels.values()];
  }
}
