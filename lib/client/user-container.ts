/**
 * #20: a container of yours in any of your sessions at the location — this one, another program's,
 * or one left running without a client (`tfnz run -d`) — as the command line reaches it.
 */
import { NEVER, type Observable } from 'rxjs';
import { BadRequest, type ResultOf } from '../protocol';
import { displayName } from '../protocol/tags';
import type { SessionContext } from './session-context';
import { Process, type ProcessOptions } from './process';
import { fetchFile, putFile } from './file-transfer';
import { followLogs, readLogs, type LogEntry, type LogOptions, type LogReadOptions } from './container-logs';

/** What the location says about one of your containers (from `Location.userContainers`). */
export type UserContainerInfo = ResultOf<'user_containers'>['containers'][number];

/**
 * One of your containers in whichever of your sessions, from `Location.userContainer(key)`: run
 * processes in it, copy files, read its logs, stop or remove it. Its state is not followed live:
 * `info` is what the location said when it was found.
 *
 * @example
 * ```ts
 * const web = await loc.userContainer('web');      // a uuid, a tag or uuid:tag
 * const ps = web.spawnProcess(['ls', '/']);
 * ps.output$.subscribe((b) => process.stdout.write(b));
 * await ps.wait();
 * ```
 */
export class UserContainer {
  /** Its processes end with a process_exit when it goes; no status of it reaches this session. */
  readonly status$: Observable<never> = NEVER;

  /** @internal Use `loc.userContainer(key)`. */
  constructor(
    private readonly ctx: SessionContext,
    readonly info: UserContainerInfo,
  ) {}

  get id(): string {
    return this.info.id;
  }
  get tag(): string | undefined {
    return this.info.tag;
  }
  /** `uuid:tag`, or just the uuid when untagged. */
  get displayName(): string {
    return displayName(this.id, this.tag);
  }

  /** @internal The location checks it runs when a process starts. */
  async running(): Promise<this> {
    return this;
  }

  /** Run `command` in it (a string for sh -c, or argv); as `Container.spawnProcess`. */
  spawnProcess(command: string | string[], opts: ProcessOptions = {}): Process<UserContainer> {
    const line = typeof command === 'string' ? command : command.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    if (line.trim() === '') throw new BadRequest('a process needs a command: a string for sh -c, or a non-empty list of strings');
    return new Process(this.ctx, this, line, opts);
  }

  /** A login shell on a pty, as `Container.spawnShell`. */
  spawnShell(opts: { echo?: boolean; size?: { cols: number; rows: number } } = {}): Process<UserContainer> {
    return new Process(this.ctx, this, undefined, { tty: true, echo: !!opts.echo, size: opts.size });
  }

  /** Kill a process started here (and its children). */
  async destroyProcess(process: Process<UserContainer>): Promise<void> {
    await process.destroy();
  }

  /** The bytes of the regular file at absolute `path` (also once it stopped). */
  fetch(path: string): Promise<Buffer> {
    return fetchFile(this.ctx, this.id, path);
  }

  /** Create or replace the file at absolute `path`. */
  put(path: string, data: string | Uint8Array): Promise<void> {
    return putFile(this.ctx, this.id, path, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Its main process's kept output, as `Container.logs`. */
  logs(opts: LogReadOptions = {}): Promise<LogEntry[]> {
    return readLogs(this.ctx, this.id, opts);
  }

  /** Its kept output, then every new line until it ends, as `Container.logs$`. */
  logs$(opts: LogOptions = {}): Observable<LogEntry> {
    return followLogs(this.ctx, this.id, opts, () => Promise.resolve());
  }

  /** Kill its main process (SIGKILL, at once); it stays, exited, until `remove()`. */
  async stop(): Promise<void> {
    await this.ctx.connection.request('stop_user_container', { container: this.id });
  }

  /** Destroy it (a running one only with `force`), whichever session holds it. */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    await this.ctx.connection.request('remove_user_container', { container: this.id, force: opts.force });
  }
}
