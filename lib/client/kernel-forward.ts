/**
 * Tunnels forwarded by the kernel: for direct tunnels (the embedded location, or one on this
 * process's network stack, to containers of a local Docker Engine: direct-reach.ts), a root
 * process rewrites connections to a tunnel's loopback port straight to the container's private
 * address in the packet filter, the way Docker publishes ports with `--userland-proxy=false` (see
 * moby's docs on its iptables rules, "no userland proxy"): no process moves the bytes.
 *
 * Per tunnel, while its container's port answers:
 *  - nat OUTPUT: `-p tcp -d <bind> --dport <localPort> -j DNAT --to-destination <ip>:<port>`;
 *  - nat POSTROUTING: MASQUERADE of loopback-sourced traffic to `<ip>:<port>` (the container
 *    could not answer 127.0.0.1);
 *  - `net.ipv4.conf.<bridge>.route_localnet=1` on the container network's bridge, so the kernel
 *    routes a packet still carrying a loopback source out of it at all (Docker sets the same and
 *    leaves it set; so does this).
 * Every rule carries the comment `tfnz-tunnel:<pid>:<tunnel>`: the first use in a process removes
 * the rules of processes that are gone (a leftover DNAT would silently take the port from whoever
 * listens on it next), and a process that exits normally removes its own.
 *
 * Removing the rules leaves connections already rewritten going (conntrack remembers them), so
 * closing a tunnel also aborts the local sockets of connections to its port (`ss -K`), which
 * resets their other end in the container.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { IptablesRunner } from '../shared/iptables';
import { shellIptables } from '../shared/iptables-shell';
import { processIsGone } from '../shared/process-liveness';

const run = promisify(execFile);
const TAG = 'tfnz-tunnel';

/** Aborts the local TCP sockets connected to `bind`:`port`. */
export type SocketKiller = (bind: string, port: number) => Promise<void>;
const killWithSs: SocketKiller = async (bind, port) => void (await run('ss', ['-K', 'dst', bind, 'dport', '=', String(port)]));

/** One tunnel's forwarding, as installed. */
interface Installed {
  bind: string;
  localPort: number;
  rules: string[][];
}

/** The process's kernel-forwarded tunnels. */
export class KernelForwards {
  private static instance?: KernelForwards;
  private ready?: Promise<string | undefined>;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly installed = new Map<string, Installed>();
  private exitHook = false;

  static shared(): KernelForwards {
    return (KernelForwards.instance ??= new KernelForwards());
  }

  constructor(
    // Long-lived shells: a fork of a large user process per rule cost more than iptables itself.
    private readonly iptablesRun: IptablesRunner = shellIptables,
    private readonly killSockets: SocketKiller = killWithSs,
    private readonly pid = process.pid,
  ) {}

  /**
   * Why tunnels on `bind` cannot be forwarded by the kernel here (undefined: they can). The first
   * call checks the packet filter and removes what dead processes left in it.
   */
  async unavailable(bind: string): Promise<string | undefined> {
    if (process.platform !== 'linux') return 'not Linux';
    if (process.getuid?.() !== 0) return 'not root';
    if (!/^127\.\d+\.\d+\.\d+$/.test(bind)) return `bound to ${bind}, not an IPv4 loopback address`;
    this.ready ??= this.prepare();
    return this.ready;
  }

  /**
   * Forward `bind`:`localPort` to `ip`:`port` (replacing what the tunnel had), if `wanted()` still
   * says so when its turn comes; resolves whether it did.
   */
  forward(tunnel: string, bind: string, localPort: number, ip: string, port: number, wanted: () => boolean = () => true): Promise<boolean> {
    return this.serial(async () => {
      await this.removeNow(tunnel);
      if (!wanted()) return false;
      const bridge = routeInterface(await readFile('/proc/net/route', 'utf8'), ip);
      if (!bridge) throw new Error(`no local bridge routes to ${ip} (is the engine on this machine?)`);
      await writeFile(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, '1');
      const comment = ['-m', 'comment', '--comment', `${TAG}:${this.pid}:${tunnel}`];
      const rules = [
        ['-t', 'nat', 'OUTPUT', '-p', 'tcp', '-d', bind, '--dport', String(localPort), ...comment, '-j', 'DNAT', '--to-destination', `${ip}:${port}`],
        ['-t', 'nat', 'POSTROUTING', '-p', 'tcp', '-s', '127.0.0.0/8', '-d', ip, '--dport', String(port), ...comment, '-j', 'MASQUERADE'],
      ];
      const entry: Installed = { bind, localPort, rules: [] };
      this.installed.set(tunnel, entry);
      this.hookExit();
      // MASQUERADE first: a connection the DNAT catches must find it in place.
      for (const rule of [...rules].reverse()) {
        await this.iptablesRun(insert(rule));
        entry.rules.push(rule);
      }
      return true;
    });
  }

  /**
   * Stop forwarding the tunnel; with `cut`, also abort every connection to its local port (the
   * tunnel is closing: the relay's own go too). Without, connections forwarded so far carry on to
   * where they went (a container that stopped or moved has reset them, or will).
   */
  remove(tunnel: string, cut: boolean): Promise<void> {
    return this.serial(() => this.removeNow(tunnel, cut));
  }

  private async removeNow(tunnel: string, cut = false): Promise<void> {
    const entry = this.installed.get(tunnel);
    if (!entry) return;
    this.installed.delete(tunnel);
    for (const rule of entry.rules) await this.iptablesRun(del(rule)).catch(() => undefined); // removed by someone else
    if (cut) await this.killSockets(entry.bind, entry.localPort).catch(() => undefined);
  }

  /** Check the filter (and `ss`) once, and remove the rules of processes that are gone. */
  private async prepare(): Promise<string | undefined> {
    let listing: string;
    try {
      listing = await this.iptablesRun(['-t', 'nat', '-S']);
      await run('ss', ['-V']);
    } catch (err) {
      return `no packet filter to change (${((err as { stderr?: string }).stderr || (err as Error).message).trim()})`;
    }
    for (const args of staleRules(listing, (pid) => pid === this.pid || !processIsGone(pid))) {
      await this.iptablesRun(['-t', 'nat', '-D', ...args]).catch(() => undefined); // removed concurrently
    }
    return undefined;
  }

  /** A process that ends normally takes its rules with it (synchronously: 'exit' waits for nothing). */
  private hookExit(): void {
    if (this.exitHook) return;
    this.exitHook = true;
    process.once('exit', () => {
      for (const { rules } of this.installed.values()) {
        for (const rule of rules) {
          try {
            execFileSync('iptables', ['-w', ...del(rule)], { stdio: 'ignore' });
          } catch {
            // gone already
          }
        }
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** `-t nat CHAIN …` as an insert at the top of CHAIN (before anything of Docker's). */
function insert([t, table, chain, ...rest]: string[]): string[] {
  return [t, table, '-I', chain, '1', ...rest];
}

function del([t, table, chain, ...rest]: string[]): string[] {
  return [t, table, '-D', chain, ...rest];
}

/**
 * The tunnel rules in an `iptables -t nat -S` listing whose process `alive` says is gone, as the
 * arguments that follow `-D`.
 */
export function staleRules(listing: string, alive: (pid: number) => boolean): string[][] {
  const stale: string[][] = [];
  for (const line of listing.split('\n')) {
    const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    const comment = args[args.indexOf('--comment') + 1] ?? '';
    const [tag, pid] = comment.split(':');
    if (args[0] !== '-A' || !args.includes('--comment') || tag !== TAG || !/^\d+$/.test(pid ?? '')) continue;
    if (!alive(Number(pid))) stale.push(args.slice(1));
  }
  return stale;
}

/**
 * The interface `ip` is reached through directly (a bridge of the engine), from a
 * `/proc/net/route` listing: the longest matching route without a gateway, not the default route.
 */
export function routeInterface(table: string, ip: string): string | undefined {
  const address = ipv4ToInt(ip);
  if (address === undefined) return undefined;
  let best: { iface: string; bits: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const [iface, dest, gateway, flags, , , , mask] = line.trim().split(/\s+/);
    if (!iface || !mask) continue;
    const up = (parseInt(flags, 16) & 1) === 1;
    const m = hexToInt(mask);
    const bits = popcount(m);
    if (!up || bits === 0 || hexToInt(gateway) !== 0) continue;
    if (((address & m) >>> 0) !== hexToInt(dest)) continue;
    if (!best || bits > best.bits) best = { iface, bits };
  }
  return best?.iface;
}

/** /proc/net/route writes addresses as little-endian hex: 0100A8C0 is 192.168.0.1. */
function hexToInt(hex: string): number {
  const n = parseInt(hex, 16);
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function popcount(n: number): number {
  let bits = 0;
  for (let v = n; v; v >>>= 1) bits += v & 1;
  return bits;
}
