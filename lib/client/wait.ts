/**
 * Wait strategies (#16): what "ready" means for a container beyond "its process started". Give one
 * at spawn (`spawnContainer(image, { waitFor })`, honoured by `ready()`), or wait for one later
 * (`ctr.waitFor(...)`, `ctr.waitFor$(...)`). Names follow testcontainers-node's `Wait`.
 *
 * Each strategy is a cold Observable that emits once and completes when it holds; unsubscribing
 * stops its polling. The container applies the timeout and turns failures into StartupTimeout.
 */
import { NEVER, Observable, catchError, defer, filter, forkJoin, from, map, mergeMap, of, race, retry, take, timeout, toArray } from 'rxjs';
import { BadRequest, StartupTimeout, TfnzError, type CommandName, type HealthStatus, type ParamsOf, type ResultOf } from '../protocol';
import type { LogEntry, LogOptions } from './container-logs';
import type { ProcessResult } from './container';

/** testcontainers' default: a minute for a container to become ready. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;
/** Lines of output a StartupTimeout carries. */
const LAST_LINES = 20;

/** How often polled strategies (a command, the health check) try again. */
const POLL_MS = 500;
/** The location bounds its own waits at this many seconds. */
const MAX_WAIT_S = 3600;

/** What a strategy may use of the container it waits for. */
export interface WaitTarget {
  /** The container's id. */
  readonly id: string;
  /** Its kept output, then what follows (Container.logs$). */
  logs$(opts?: LogOptions): Observable<LogEntry>;
  /** Run a command to its end inside it (Container.runProcess). */
  runProcess(command: string | string[]): Promise<ProcessResult>;
  /** Ask the location (the session's connection). */
  request<C extends CommandName>(command: C, params: ParamsOf<C>, timeoutMs?: number): Promise<ResultOf<C>>;
}

/** A condition `ready()` or `waitFor()` waits for; made by the `Wait` functions. */
export interface WaitStrategy {
  /** What it waits for, in words; StartupTimeout's message carries it. */
  readonly description: string;
  /** True when it may still hold after the main process ended (a log message can; a port cannot). */
  readonly afterExit: boolean;
  /** Cold: emits once and completes when it holds; errors when it no longer can. */
  holds$(target: WaitTarget, deadline: number): Observable<void>;
}

/** What `Wait.forHttp` expects of the answer. */
export interface HttpWaitOptions {
  /** The status to wait for; default 200. */
  status?: number;
  /** Text the body must contain. */
  body?: string;
  /** Sent as the Host header; default 'localhost'. */
  fqdn?: string;
}

/** Whole seconds left before `deadline`, within what the location accepts. */
const secondsLeft = (deadline: number) => Math.min(MAX_WAIT_S, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));

/** Try `attempt` until it resolves, every POLL_MS; errors from `fatal` end the wait at once. */
function poll(attempt: () => Promise<void>, fatal: (err: unknown) => boolean = () => false): Observable<void> {
  return defer(attempt).pipe(retry({ delay: (err: unknown) => (fatal(err) ? Promise.reject(err) : new Promise((r) => setTimeout(r, POLL_MS))) }));
}

function strategy(description: string, afterExit: boolean, holds$: WaitStrategy['holds$']): WaitStrategy {
  return { description, afterExit, holds$ };
}

function checkPort(port: unknown): number {
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) throw new BadRequest(`a port is a whole number from 1 to 65535 (got ${String(port)})`);
  return port as number;
}

/**
 * Wait strategies, as testcontainers has them: give one to `spawnContainer(image, { waitFor })` and
 * `ready()` resolves only when it holds, or use it later with `ctr.waitFor(strategy)`.
 *
 * @example
 * const db = node.spawnContainer('busybox', { command: ['sh', '-c', 'echo ready; sleep 1; echo ready; sleep 600'],
 *   waitFor: Wait.forLogMessage('ready', 2), startupTimeoutMs: 10_000 });
 * await db.ready();
 */
export const Wait = {
  /**
   * Holds once `times` lines of the main process's output (stdout or stderr) contain `text` or
   * match `regexp`. Lines written before the wait began count too: the location keeps them.
   */
  forLogMessage(message: string | RegExp, times = 1): WaitStrategy {
    if (typeof message !== 'string' && !(message instanceof RegExp)) throw new BadRequest('forLogMessage needs a string or a RegExp');
    if (!Number.isInteger(times) || times < 1) throw new BadRequest(`forLogMessage's times must be a whole number of at least 1 (got ${times})`);
    // Without the g flag: test() on a global RegExp remembers where it stopped.
    const re = message instanceof RegExp ? new RegExp(message.source, message.flags.replace('g', '')) : undefined;
    const matches = (text: string) => (re ? re.test(text) : text.includes(message as string));
    const what = `log message ${re ? String(message) : `'${message}'`}${times > 1 ? ` ${times} times` : ''}`;
    return strategy(what, true, (target) =>
      target.logs$().pipe(
        filter((l) => matches(l.text)),
        take(times),
        toArray(),
        map((found) => {
          if (found.length < times) throw new Error(`the main process ended after ${found.length} of ${times}`);
        }),
      ),
    );
  },

  /** Holds once something accepts TCP connections on every one of `ports` (asked from the location). */
  forListeningPorts(...ports: number[]): WaitStrategy {
    if (ports.length === 0) throw new BadRequest('forListeningPorts needs at least one port: tfnz does not know which ports an image exposes');
    ports.forEach(checkPort);
    return strategy(`listening ports ${ports.join(', ')}`, false, (target, deadline) =>
      forkJoin(ports.map((port) => defer(() => {
        const timeout = secondsLeft(deadline);
        return target.request('wait_tcp', { container: target.id, port, timeout }, (timeout + 10) * 1000);
      }))).pipe(map(() => undefined)),
    );
  },

  /** Holds once `GET path` on `port` answers `status` (default 200), with `body` in it if given. */
  forHttp(path: string, port: number, opts: HttpWaitOptions = {}): WaitStrategy {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new BadRequest(`forHttp's path must start with / (got '${String(path)}')`);
    checkPort(port);
    const { status = 200, body, fqdn = 'localhost' } = opts;
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new BadRequest(`forHttp's status must be an HTTP status, 100 to 599 (got ${status})`);
    const what = `HTTP ${status}${body === undefined ? '' : ` with '${body}'`} from GET ${path} on port ${port}`;
    return strategy(what, false, (target, deadline) => defer(() => {
      const timeout = secondsLeft(deadline);
      return target.request('wait_http', { container: target.id, port, fqdn, path, status, body, timeout }, (timeout + 10) * 1000);
    }).pipe(map(() => undefined)));
  },

  /** Holds once `command` (run through sh -c, as runProcess does) exits with 0; tried every 0.5 s. */
  forSuccessfulCommand(command: string | string[]): WaitStrategy {
    const shown = Array.isArray(command) ? command.join(' ') : command;
    return strategy(`command '${shown}' to succeed`, false, (target) =>
      poll(async () => {
        const { exitCode } = await target.runProcess(command);
        if (exitCode !== 0) throw new Error(`'${shown}' exited with ${exitCode}`);
      }, (err) => err instanceof BadRequest),
    );
  },

  /**
   * Holds once the engine reports the container healthy: the image's HEALTHCHECK, or the
   * `healthcheck` spawn option. Fails at once if it has none, or when it turns unhealthy.
   */
  forHealthCheck(): WaitStrategy {
    return strategy('health check to report healthy', false, (target) =>
      poll(async () => {
        const { health } = await target.request('container_health', { container: target.id });
        if (health !== 'healthy') throw new HealthNotYet(health);
      }, (err) => err instanceof HealthNotYet ? err.health !== 'starting' : err instanceof BadRequest),
    );
  },

  /** Holds once every one of `strategies` holds (they are waited for side by side). */
  forAll(strategies: WaitStrategy[]): WaitStrategy {
    if (!Array.isArray(strategies) || strategies.length === 0) throw new BadRequest('forAll needs a non-empty list of strategies');
    return strategy(strategies.map((s) => s.description).join(' and '), strategies.every((s) => s.afterExit), (target, deadline) =>
      forkJoin(strategies.map((s) => s.holds$(target, deadline).pipe(take(1)))).pipe(map(() => undefined)),
    );
  },
};

class HealthNotYet extends Error {
  constructor(readonly health: HealthStatus) {
    super(health === 'none'
      ? "the container has no health check: give the image a HEALTHCHECK or spawn it with { healthcheck: { command } }"
      : `the health check reports ${health}`);
  }
}

/** Thrown inside the wait when the time is up; becomes StartupTimeout with the last lines. */
class TimeUp extends Error {}

/** How long a wait the location ended with "not running" waits for the container's exit to arrive. */
const EXIT_GRACE_MS = 2_000;

/**
 * Cold: emits once when `strategy` holds for `target` within `timeoutMs`. Errors with
 * StartupTimeout naming the strategy and carrying the last output lines when it does not, when the
 * container ends first (`ended$` says how), or when the strategy fails; a BadRequest passes as is.
 */
export function untilHolds(
  target: WaitTarget, strategy: WaitStrategy, timeoutMs: number, ended$: Observable<string>, lastLines: (n: number) => Promise<string[]>,
): Observable<void> {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new BadRequest(`startupTimeoutMs must be a whole number of ms, at least 1 (got ${timeoutMs})`);
  return defer(() => {
    const deadline = Date.now() + timeoutMs;
    const ended = strategy.afterExit ? NEVER : ended$.pipe(map((how) => { throw new Error(how); }));
    return race(strategy.holds$(target, deadline).pipe(take(1)), ended).pipe(
      timeout({ first: timeoutMs, with: () => { throw new TimeUp(); } }),
      catchError((err: unknown) => {
        if (err instanceof TfnzError && !(err.code === 'CONTAINER_NOT_RUNNING' || err.code === 'CONNECT_FAILED')) throw err;
        // The location's "not running" can reach us before the container's exit does; the exit
        // (its code) says more, so it is given a moment to arrive.
        const reason$ = err instanceof TfnzError && err.code === 'CONTAINER_NOT_RUNNING' && !strategy.afterExit
          ? ended$.pipe(timeout({ first: EXIT_GRACE_MS, with: () => of(err.message) }))
          : of(err instanceof TimeUp ? undefined : (err as Error).message);
        return reason$.pipe(
          mergeMap((reason) => from(lastLines(LAST_LINES).catch(() => [] as string[])).pipe(map((last) => ({ reason, last })))),
          map(({ reason, last }) => {
            const why = reason === undefined ? `was not ready within ${timeoutMs / 1000}s` : `did not become ready: ${reason}`;
            const output = last.length > 0 ? `; last output:\n${last.join('\n')}` : '; it wrote no output';
            throw new StartupTimeout(`container ${target.id} ${why} (waiting for ${strategy.description})${output}`, last);
          }),
        );
      }),
    );
  });
}
