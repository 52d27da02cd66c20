/**
 * A tagged container of another session of the same user, seen from this one. This session did
 * not make it, so it cannot destroy it; it can find it (by uuid, tag or uuid:tag) and reach it.
 */
import { BadRequest, type ExternalInfo } from '../protocol';
import { displayName } from '../protocol/tags';
import type { SessionContext } from './session-context';
import type { Container } from './container';
import { followLogs, readLogs, type LogEntry, type LogOptions, type LogReadOptions } from './container-logs';
import type { Observable } from 'rxjs';

/**
 * A container another session tagged, found with `Location.externalContainer`: it can be allowed
 * to connect to this session's containers and be a cluster member.
 */
export class ExternalContainer {
  /** @internal Use `loc.externalContainer(key)`. */
  constructor(readonly info: ExternalInfo, private readonly ctx?: SessionContext) {}

  /**
   * Let `container` (of this session) open connections to this external container over their
   * private addresses. One-way: replies flow back, nothing else becomes reachable.
   */
  async allowConnectionFrom(container: Container): Promise<void> {
    await container.ready();
    await this.session().connection.request('allow_connection', { container: this.id, from: container.id });
  }

  /** Take `allowConnectionFrom(container)` back. */
  async disallowConnectionFrom(container: Container): Promise<void> {
    await this.session().connection.request('disallow_connection', { container: this.id, from: container.id });
  }

  /** #16: its main process's kept output, as `Container.logs`. */
  logs(opts: LogReadOptions = {}): Promise<LogEntry[]> {
    return readLogs(this.session(), this.id, opts);
  }

  /** #16: its kept output, then every new line, as `Container.logs$`. */
  logs$(opts: LogOptions = {}): Observable<LogEntry> {
    return followLogs(this.session(), this.id, opts, () => Promise.resolve());
  }

  private session(): SessionContext {
    if (!this.ctx) throw new BadRequest('this ExternalContainer was made without a session; get it with loc.externalContainer(key)');
    return this.ctx;
  }

  get id(): string {
    return this.info.id;
  }
  get tag(): string {
    return this.info.tag;
  }
  /** The node it runs on. */
  get node(): string {
    return this.info.node;
  }
  get privateIp(): string | undefined {
    return this.info.privateIp;
  }
  get displayName(): string {
    return displayName(this.id, this.tag);
  }
}
