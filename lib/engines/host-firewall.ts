/**
 * Private-network reachability between containers, by packet filtering on the host where the
 * receiving container runs. The same rules everywhere; only how `iptables` is run differs: through
 * child_process on the location's own machine (engines on unix:// sockets), through the location's
 * agent container on any other host (docker-host-agent.ts), whose forwarded traffic crosses that
 * host's FORWARD chain.
 *
 * Two chains hang off Docker's DOCKER-USER chain (which Docker consults first in FORWARD and never
 * flushes): TFNZ-ALLOW, then TFNZ-DENY.
 *  - Every running container gets a TFNZ-DENY rule dropping NEW connections *to* its private IP,
 *    so by default nothing forwarded (another container, on any bridge or host) may open one to it.
 *    On the location's machine the location itself, tunnels and wait_tcp come from the host
 *    (INPUT/OUTPUT, not FORWARD), so they are unaffected; on another host they are forwarded, so
 *    that host gets one TFNZ-ALLOW rule accepting everything from the location's address
 *    (`admitLocation`). The container's own outgoing traffic is unaffected.
 *  - `allow(target, from)` adds, in TFNZ-ALLOW, an ACCEPT for anything from `from`'s IP to
 *    `target`'s IP, and for ESTABLISHED/RELATED replies back. One-way, like the original SDK:
 *    `from` may open connections to `target`; `target` gains no way to open connections to `from`
 *    (its replies flow as established traffic). The reply rule matters only across bridges
 *    (engines), where Docker's isolation would otherwise drop them.
 * Every rule carries a comment `tfnz:<location>:deny:<id>`, `tfnz:<location>:allow:<target>:<from>`
 * or `tfnz:<location>:location`, so rules can be found and removed by container or by location.
 */
import { EngineError } from '../protocol';
import { localIptables, type IptablesRunner } from '../shared/iptables';
import { shellIptables } from '../shared/iptables-shell';

export { localIptables, type IptablesRunner };
const ALLOW = 'TFNZ-ALLOW';
const DENY = 'TFNZ-DENY';

/** Engines on the location's own machine (a socket, or TCP on the loopback), whose packet filter is the location's. */
export function isLocalEngine(address: string): boolean {
  if (address.startsWith('unix://')) return true;
  try {
    const host = new URL(address).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

export interface FirewallEntry {
  kind: 'deny' | 'allow';
  /** Container ids the rule mentions (deny: [id]; allow: [target, from]). */
  ids: string[];
}

/** The tfnz rules of one location on one host. */
export class HostFirewall {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly prefix: string;

  private chainsReady?: Promise<void>;
  /**
   * The rules this firewall added and has not removed, by comment (an allow is two rules): so
   * forgetting a container deletes its rules by their exact spec, with no listing. Every run of
   * iptables costs 10-150 ms on a busy machine (a fork or a docker exec, then the xtables lock),
   * and destroy waits for it.
   */
  private readonly added = new Map<string, string[][]>();

  /** `iptables`: how to run it on the host (default: here, through long-lived shells: no fork of this process per run). */
  constructor(location: string, private readonly iptablesRun: IptablesRunner = shellIptables) {
    this.prefix = `tfnz:${location.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 180)}:`;
  }

  /**
   * The filter table as it is now, for a `deny` to come: taken while the engine starts a container
   * (whose address is not known yet), it takes one iptables run off the spawn's path. Not queued
   * behind this firewall's changes: listing reads only. Undefined when there is no filter to list.
   */
  listing(): Promise<string | undefined> {
    return this.iptablesRun(['-S']).catch(() => undefined);
  }

  /**
   * Close `id`'s private IP to new forwarded connections, replacing every earlier rule about the
   * container (a reboot) or its address. This runs on every spawn, before the container is
   * reported running (while the engine starts it, when the engine tells its address early:
   * DockerEngine.startWithAddress): the new rule is appended while the filter table is listed
   * (two runs at once, not one after the other), then the stale rules the listing shows are deleted.
   *
   * `listed`: a `listing()` taken since the container was created, before it started. The rules
   * it must catch are stale ones (a location that died without cleaning up adds nothing later),
   * and this location's own are deleted by their spec; so an earlier listing finds the same rules
   * and leaves only the append on the path from "started" to "running".
   */
  deny(id: string, ip: string, listed?: Promise<string | undefined>): Promise<void> {
    return this.serial(async () => {
      await this.ensureChains();
      const comment = `${this.prefix}deny:${id}`;
      const rule = [DENY, '-d', ip, '-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', comment, '-j', 'DROP'];
      // The address is this container's now: rules about it left by anything before (a location
      // that died without cleaning up, whatever its name) are stale and would shut it out.
      const cidr = `${ip}/32`;
      const isNewRule = (c: string, args: string[]) => c === comment && args[1] === DENY && args[args.indexOf('-d') + 1] === cidr;
      // Our own earlier rules about this container (a reboot may keep its address, and then the
      // listing could not tell its old deny rule from the new one) go first, by their spec.
      await this.deleteAdded(id);
      await Promise.all([
        this.iptables(['-A', ...rule]),
        // An early listing that failed (an agent not yet up) is taken again now.
        this.removeListed(listed?.then((early) => early ?? this.listing()) ?? this.listing(), (c, args) =>
          c.startsWith('tfnz:') && !isNewRule(c, args) &&
          ([args[args.indexOf('-s') + 1], args[args.indexOf('-d') + 1]].includes(cidr) ||
            (c.startsWith(this.prefix) && c.slice(this.prefix.length).split(':').slice(1).includes(id)))),
      ]);
      this.added.set(comment, [rule]);
    });
  }

  /** Let `from` (at `fromIp`) open connections to `target` (at `targetIp`), with their replies. */
  allow(target: string, targetIp: string, from: string, fromIp: string): Promise<void> {
    return this.serial(async () => {
      await this.ensureChains();
      const what = `allow:${target}:${from}`;
      await this.append(what, [ALLOW, '-s', fromIp, '-d', targetIp], ['-j', 'ACCEPT']);
      await this.append(what, [ALLOW, '-s', targetIp, '-d', fromIp, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED'], ['-j', 'ACCEPT']);
    });
  }

  /** Remove this location's rules for which `which` says yes (found by listing the chains). */
  remove(which: (entry: FirewallEntry) => boolean): Promise<void> {
    return this.serial(() => this.removeListed(this.listing(), (comment) => this.isOurs(comment, which)));
  }

  /**
   * Remove every rule mentioning container `id`: the ones this firewall added, by their spec, with
   * no listing (rules of earlier runs went at start, in removeStale, or when an address was reused).
   */
  forget(id: string): Promise<void> {
    return this.serial(() => this.deleteAdded(id));
  }

  /** Delete the rules this firewall added that mention `id`, by their spec. */
  private async deleteAdded(id: string): Promise<void> {
    for (const [comment, rules] of [...this.added]) {
      if (!this.isOurs(comment, (e) => e.ids.includes(id))) continue;
      this.added.delete(comment);
      for (const rule of rules) await this.iptables(['-D', ...rule]).catch(() => undefined); // removed concurrently
    }
  }

  private isOurs(comment: string, which: (entry: FirewallEntry) => boolean): boolean {
    if (!comment.startsWith(this.prefix)) return false;
    const [kind, ...ids] = comment.slice(this.prefix.length).split(':');
    return (kind === 'deny' || kind === 'allow') && which({ kind, ids });
  }

  /** Append `match` + our comment `what` + `target` to its chain, and remember it for forget. */
  private async append(what: string, match: string[], target: string[]): Promise<void> {
    const comment = `${this.prefix}${what}`;
    const rule = [...match, '-m', 'comment', '--comment', comment, ...target];
    await this.iptables(['-A', ...rule]);
    this.added.set(comment, [...(this.added.get(comment) ?? []), rule]);
  }

  /** removeRules, keeping `added` in step with what is gone. */
  private async removeListed(listed: Promise<string | undefined>, which: (comment: string, args: string[]) => boolean): Promise<void> {
    await this.removeRules(await listed, (comment, args) => {
      const yes = which(comment, args);
      if (yes) this.added.delete(comment);
      return yes;
    });
  }

  /** Remove the allow rule(s) target ← from. */
  disallow(target: string, from: string): Promise<void> {
    return this.remove((e) => e.kind === 'allow' && e.ids[0] === target && e.ids[1] === from);
  }

  /**
   * Accept everything forwarded from the location's own address `ip`: on a host other than the
   * location's, its tunnels, front door and wait_tcp reach containers through FORWARD too.
   */
  admitLocation(ip: string): Promise<void> {
    return this.serial(async () => {
      await this.ensureChains();
      const rule = [ALLOW, '-s', ip, ...this.comment('location'), '-j', 'ACCEPT'];
      const present = await this.iptablesRun(['-C', ...rule]).then(() => true, () => false);
      if (!present) await this.iptables(['-I', ...rule]);
    });
  }

  /** Remove every rule of this location on this host (the location is closing). */
  removeAll(): Promise<void> {
    return this.serial(() => this.removeListed(this.listing(), (comment) => comment.startsWith(this.prefix)));
  }

  /** The host may have lost its rules and chains (a reboot): create the chains again next time. */
  rebuildChains(): void {
    this.chainsReady = undefined;
  }

  private comment(what: string): string[] {
    return ['-m', 'comment', '--comment', `${this.prefix}${what}`];
  }

  /** Create the chains and hook them into DOCKER-USER (allow first), once per location. */
  private ensureChains(): Promise<void> {
    this.chainsReady ??= this.createChains().catch((err) => {
      this.chainsReady = undefined; // try again next time
      throw err;
    });
    return this.chainsReady;
  }

  private async createChains(): Promise<void> {
    for (const chain of [ALLOW, DENY]) await this.iptablesRun(['-N', chain]).catch(() => undefined);
    await this.iptablesRun(['-N', 'DOCKER-USER']).catch(() => undefined);
    for (const chain of [DENY, ALLOW]) {
      const present = await this.iptablesRun(['-C', 'DOCKER-USER', '-j', chain]).then(() => true, () => false);
      if (!present) await this.iptables(['-I', 'DOCKER-USER', '1', '-j', chain]);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async iptables(args: string[]): Promise<void> {
    try {
      await this.iptablesRun(args);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new EngineError(`packet filter (iptables ${args.slice(0, 2).join(' ')}) failed: ${(e.stderr || e.message).trim()}`);
    }
  }

  /**
   * Remove the tfnz rules of `listing` (of the whole filter table, not one per chain: each run of
   * iptables is the expensive part) for which `which(comment, args)` says yes. No listing: no
   * packet filter to list, so no rules.
   */
  private async removeRules(listing: string | undefined, which: (comment: string, args: string[]) => boolean): Promise<void> {
    if (listing === undefined) return;
    for (const line of listing.split('\n')) {
      const args = tokens(line);
      const at = args.indexOf('--comment');
      if (args[0] !== '-A' || (args[1] !== ALLOW && args[1] !== DENY) || at < 0 || !which(args[at + 1] ?? '', args)) continue;
      await this.iptables(['-D', ...args.slice(1)]).catch(() => undefined); // removed concurrently
    }
  }
}

/** Split an `iptables -S` line into arguments (quoted comments stay whole). */
function tokens(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}
