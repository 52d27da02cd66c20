/**
 * Per-user quotas (finding 8 of issue 13): how many sessions, containers, volumes, tunnels and
 * published names one user holds, and how many layer bytes they uploaded, against the location's
 * limits. Counts come from the live sessions themselves, so nothing here can drift out of step;
 * only uploaded bytes are counted here, as they outlive the sessions that sent them.
 */
import { QuotaExceeded } from '../protocol/errors';
import type { Limits } from './limits';
import type { Session } from './session';

export class Quotas {
  private readonly uploaded = new Map<string, number>();

  constructor(
    private readonly limits: Limits,
    /** The user's sessions that are open and not ended (detached ones included), oldest first. */
    private readonly sessionsOf: (user: string) => Session[],
  ) {}

  /**
   * Room for one more session of `user`: at the cap the oldest detached session (its client went
   * away and may never come back) is ended to make room; if every one is connected or kept, refuse.
   */
  newSession(user: string): void {
    const live = this.sessionsOf(user);
    if (live.length < this.limits.sessionsPerUser) return;
    const away = live.find((s) => s.away && !s.keptWithoutClient); // a kept session (tfnz run -d) waits for tfnz rm
    if (away) return void away.end();
    throw exceeded(`${live.length} sessions are open for this user`, 'sessionsPerUser', 'sessions-per-user', 'close one first');
  }

  container(user: string): void {
    const count = this.sum(user, (s) => s.containers.size);
    if (count >= this.limits.containersPerUser) throw exceeded(`this user has ${count} containers`, 'containersPerUser', 'containers-per-user', 'destroy one first');
  }

  volume(count: number): void {
    if (count >= this.limits.volumesPerUser) throw exceeded(`this user has ${count} volumes`, 'volumesPerUser', 'volumes-per-user', 'destroy one first');
  }

  tunnel(user: string): void {
    const count = this.sum(user, (s) => s.tunnels.size);
    if (count >= this.limits.tunnelsPerUser) throw exceeded(`this user has ${count} tunnels`, 'tunnelsPerUser', 'tunnels-per-user', 'destroy one first');
  }

  name(user: string): void {
    const count = this.sum(user, (s) => s.ctx.sites.clustersOf(s.id).length);
    if (count >= this.limits.namesPerUser) throw exceeded(`this user publishes ${count} host names`, 'namesPerUser', 'names-per-user', 'unpublish one first');
  }

  /** The size of one transfer (put_file, upload_layer) against the location's cap. */
  transferSize(size: number): void {
    if (size > this.limits.transferBytes) {
      throw exceeded(`a transfer of ${size} bytes is over the location's ${this.limits.transferBytes}`, 'transferBytes', 'transfer-bytes', 'send less');
    }
  }

  /** Count `bytes` of layer upload against the user's quota (before any of it arrives). */
  upload(user: string, bytes: number): void {
    this.transferSize(bytes);
    const sofar = this.uploaded.get(user) ?? 0;
    if (sofar + bytes > this.limits.uploadBytesPerUser) {
      throw exceeded(`this user uploaded ${sofar} bytes of layers already, and ${bytes} more would pass ${this.limits.uploadBytesPerUser}`, 'uploadBytesPerUser', 'upload-bytes-per-user', 'restart the location to reset the count');
    }
    this.uploaded.set(user, sofar + bytes);
  }

  private sum(user: string, count: (s: Session) => number): number {
    return this.sessionsOf(user).reduce((n, s) => n + count(s), 0);
  }
}

function exceeded(what: string, option: string, flag: string, otherwise: string): QuotaExceeded {
  return new QuotaExceeded(`${what}, the location's limit; ${otherwise}, or ask its operator to raise it (LocationServer limits.${option}, tfnz location --${flag})`);
}
