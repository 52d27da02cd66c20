/**
 * A process running inside a container: created by `Container.spawnProcess` / `spawnShell`,
 * destroyed by `Container.destroyProcess` or with its container. Output is hot; termination
 * behaves like a promise (late subscribers still get the exit code).
 */
import { ReplaySubject, Subject, filter, firstValueFrom, map, share, takeUntil, type Observable, type Subscription } from 'rxjs';
import { nanoid } from 'nanoid';
import { ConnectionLost, errorFromWire, type EventOf, type TfnzError } from '../protocol';
import type { SessionContext } from './session-context';
import type { Container } from './container';

/** What a process runs in: a `Container` of this session, or (#20) a `UserContainer` of another. */
export interface ProcessHost {
  readonly id: string;
  /** Completes when the container is gone (the process is then gone too). */
  readonly status$: Observable<unknown>;
  /** Resolves once processes can start in it. */
  running(): Promise<unknown>;
  /** Kill a process started in it (and its children); resolves once it ended. */
  destroyProcess(process: Process<ProcessHost>): Promise<void>;
}

/** Reported when a process was lost with its container and the location could not say more. */
const KILLED = 137;

/** Options of `Container.spawnProcess`. */
export interface ProcessOptions {
  /** Run on a pty (a terminal): stdout and stderr arrive merged on `output$`. */
  tty?: boolean;
  /** With a pty: echo what is typed (default off, so only the program's output comes back). */
  echo?: boolean;
  /** With a pty: its size from the start (`resize()` changes it later). */
  size?: { cols: number; rows: number };
  /** #16: user, uid, user:group or uid:gid to run as (default the container's user). */
  user?: string;
  /** #16: its working directory (absolute; default the container's). */
  workdir?: string;
  /** #16: environment variables added to the container's. */
  env?: Record<string, string>;
}

/**
 * A process running inside a container, from `Container.spawnProcess` or `spawnShell`: its output
 * as Observables, its stdin, and its exit code (`wait()`).
 *
 * @example
 * ```ts
 * await using ping = box.spawnProcess(['ping', '-c', '3', '127.0.0.1']);
 * ping.output$.pipe(lines()).subscribe((line) => console.log(line));
 * console.log('exit code', await ping.wait());
 * ```
 */
export class Process<H extends ProcessHost = Container> {
  readonly id = nanoid();
  /** Hot: bytes the process writes to stdout (with a pty, everything it writes). */
  readonly output$: Observable<Buffer>;
  /** Hot: bytes the process writes to stderr (nothing with a pty). */
  readonly stderr$: Observable<Buffer>;
  /** The exit code, once, then complete; late subscribers still get it. */
  readonly termination$: Observable<number>;
  /** Resolves once the location started it; rejects if it could not (the container is not running, …). */
  readonly started: Promise<void>;

  private readonly terminated = new ReplaySubject<number>(1);
  /** Fires once at the end, success or not: output streams complete (never error) on it. */
  private readonly endSignal = new ReplaySubject<void>(1);
  private readonly subscription: Subscription;
  private ended = false;
  private isStarted = false;

  /** @internal Use `Container.spawnProcess` or `Container.spawnShell`. */
  constructor(
    private readonly ctx: SessionContext,
    readonly container: H,
    /** The command line, or undefined for a login shell. */
    readonly command: string | undefined,
    readonly opts: ProcessOptions = {},
  ) {
    this.termination$ = this.terminated.asObservable();
    const mine$ = ctx.events.of('process', this.id);
    const output = new Subject<EventOf<'process_output'>>();
    // Subscribed from the start, so nothing is missed between spawning and the caller subscribing.
    this.subscription = mine$.subscribe({
      next: (e) => (e.event === 'process_output' ? output.next(e) : this.finish(e.params.exitCode, e.params.error && errorFromWire(e.params.error))),
      complete: () => this.finish(undefined, new ConnectionLost(`the connection closed while process ${this.id} ran`)),
    });
    // A process cannot outlive its container (one that never started fails through `started`).
    this.subscription.add(container.status$.subscribe({ complete: () => this.isStarted && this.finish(KILLED) }));
    const stream = (name: 'stdout' | 'stderr') =>
      output.pipe(
        filter((e) => e.params.stream === name),
        map((e) => Buffer.from(e.bulk ?? [])),
        takeUntil(this.endSignal),
        share(),
      );
    this.output$ = stream('stdout');
    this.stderr$ = stream('stderr');
    ctx.dispatch({ type: 'process_spawning', process: { id: this.id, container: container.id, command, tty: !!opts.tty } });
    this.started = container.running().then(() =>
      ctx.connection.request('spawn_process', {
        container: container.id, process: this.id, command, tty: !!opts.tty, echo: !!opts.echo,
        cols: opts.tty ? opts.size?.cols : undefined, rows: opts.tty ? opts.size?.rows : undefined,
        user: opts.user, workdir: opts.workdir, env: opts.env && Object.entries(opts.env),
      }),
    ).then(() => void (this.isStarted = true));
    this.started.catch((err: TfnzError) => this.finish(undefined, err));
  }

  /** Write to its stdin (in order, also when called before it started). */
  stdin(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length === 0) return;
    void this.started.then(() => this.ctx.connection.send('process_stdin', { process: this.id }, bytes), () => undefined);
  }

  /** Close its stdin: it reads end-of-file (e.g. `cat` or `sort` then finish). */
  closeStdin(): void {
    void this.started.then(() => this.ctx.connection.send('process_stdin_end', { process: this.id }), () => undefined);
  }

  /** Tell a pty process its terminal's size. */
  resize(cols: number, rows: number): void {
    void this.started.then(() => this.ctx.connection.send('process_resize', { process: this.id, cols, rows }), () => undefined);
  }

  /** Resolves with the exit code when it ends. */
  wait(): Promise<number> {
    return firstValueFrom(this.termination$);
  }

  /** True until it ends (as the state says). */
  get isRunning(): boolean {
    return this.ctx.state$.value.processes[this.id] !== undefined;
  }

  /** `await using process = container.spawnProcess(…)`: killed (with its children) when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.container.destroyProcess(this);
  }

  /** @internal Kill it (and its children); resolves once it ended. Use `Container.destroyProcess`. */
  async destroy(): Promise<void> {
    if (this.ended) return;
    await this.started.catch(() => undefined);
    if (this.ended) return;
    await this.ctx.connection.request('destroy_process', { process: this.id }).catch((err: TfnzError) => {
      if (!this.ended && err.code !== 'PROCESS_NOT_FOUND') throw err;
    });
    await this.wait().catch(() => undefined);
  }

  private finish(exitCode: number | undefined, error?: TfnzError): void {
    if (this.ended) return;
    this.ended = true;
    this.ctx.dispatch({ type: 'process_ended', process: this.id });
    this.endSignal.next();
    if (exitCode !== undefined) {
      this.terminated.next(exitCode);
      this.terminated.complete();
    } else {
      this.terminated.error(error ?? new ConnectionLost(`process ${this.id} ended without an exit code`));
    }
    queueMicrotask(() => this.subscription.unsubscribe());
  }
}
