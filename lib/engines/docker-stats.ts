/**
 * Per-engine spare capacity and liveness for Docker Engines.
 *
 * Several engines may share one machine (the specs run three dockerds side by side), so host-wide
 * figures from /proc would report the same load for all of them. Instead each engine's spare
 * capacity is its own share: what the engine says it has (cores, memory) less what *its* running
 * containers use, from the engine's container stats API (works for unix, tcp and TLS engines alike).
 *
 *   cpu     = cores × 100 − Σ container CPU (hundredths of a core, measured between two samples)
 *   memory  = MemTotal − Σ container memory (MiB, page cache excluded); for an engine on this machine
 *             never more than the host's MemAvailable
 *   paging  = host swap pages in + out per second for an engine on this machine, else 0
 *   containers = running containers on the engine (every session and anything else)
 */
import type Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import type { NodeStats } from '../protocol';

interface CpuSample {
  usage: number;
  system: number;
  at: number;
}

interface HostReading {
  availableMiB: number;
  swapPages: number;
  at: number;
}

/** One /proc reading shared by every local engine for a moment, so they compare like for like. */
let hostReading: Promise<HostReading> | undefined;
let hostReadingAt = 0;
const HOST_READING_TTL_MS = 500;

function readHost(): Promise<HostReading> {
  const now = Date.now();
  if (!hostReading || now - hostReadingAt > HOST_READING_TTL_MS) {
    hostReadingAt = now;
    hostReading = Promise.all([readFile('/proc/meminfo', 'utf8'), readFile('/proc/vmstat', 'utf8')]).then(([meminfo, vmstat]) => ({
      availableMiB: Number(/MemAvailable:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024,
      swapPages: ['pswpin', 'pswpout'].reduce((sum, k) => sum + Number(new RegExp(`${k} (\\d+)`).exec(vmstat)?.[1] ?? 0), 0),
      at: now,
    }));
    hostReading.catch(() => (hostReading = undefined));
  }
  return hostReading;
}

/** The subset of the engine's stats reply used here. */
interface ContainerStatsReply {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

export class DockerStatsSampler {
  private readonly lastCpu = new Map<string, CpuSample>();
  private lastSwap?: { pages: number; at: number };

  /** `local`: the engine runs on this machine (a unix socket), so host memory and swap apply. */
  constructor(
    private readonly docker: Docker,
    private readonly local: boolean,
  ) {}

  async sample(): Promise<NodeStats> {
    const info = await this.docker.info();
    const cores = Number(info.NCPU) || 1;
    const totalMiB = Number(info.MemTotal) / 2 ** 20;
    const running = await this.docker.listContainers({ filters: { status: ['running'] } });
    const usage = await Promise.all(running.map((c) => this.containerUsage(c.Id)));
    const seen = new Set(running.map((c) => c.Id));
    for (const id of this.lastCpu.keys()) if (!seen.has(id)) this.lastCpu.delete(id);
    const cpuUsed = usage.reduce((sum, u) => sum + u.cpu, 0);
    const memUsedMiB = usage.reduce((sum, u) => sum + u.memoryMiB, 0);
    let memory = totalMiB - memUsedMiB;
    let paging = 0;
    if (this.local) {
      const host = await readHost().catch(() => undefined);
      if (host) {
        memory = Math.min(memory, host.availableMiB);
        if (this.lastSwap && host.at > this.lastSwap.at) paging = ((host.swapPages - this.lastSwap.pages) * 1000) / (host.at - this.lastSwap.at);
        this.lastSwap = { pages: host.swapPages, at: host.at };
      }
    }
    return {
      cpu: Math.max(0, Math.round(cores * 100 - cpuUsed)),
      memory: Math.max(0, Math.round(memory)),
      paging: Math.max(0, Math.round(paging)),
      containers: Number(info.ContainersRunning) || running.length,
    };
  }

  /** CPU in hundredths of a core since this container's previous sample, and memory in MiB. */
  private async containerUsage(id: string): Promise<{ cpu: number; memoryMiB: number }> {
    let reply: ContainerStatsReply;
    try {
      reply = (await this.docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false })) as ContainerStatsReply;
    } catch {
      return { cpu: 0, memoryMiB: 0 }; // it stopped between listing and asking
    }
    const now: CpuSample = {
      usage: reply.cpu_stats?.cpu_usage?.total_usage ?? 0,
      system: reply.cpu_stats?.system_cpu_usage ?? 0,
      at: Date.now(),
    };
    const cpus = reply.cpu_stats?.online_cpus || 1;
    const before = this.lastCpu.get(id);
    this.lastCpu.set(id, now);
    let cpu = 0;
    if (before && now.usage >= before.usage) {
      const used = now.usage - before.usage;
      // The engine's own clock (system_cpu_usage sums every core) when it gives one, else ours.
      if (now.system > before.system) cpu = (used / (now.system - before.system)) * cpus * 100;
      else if (now.at > before.at) cpu = (used / ((now.at - before.at) * 1e6)) * 100;
    }
    const mem = reply.memory_stats;
    const cache = mem?.stats?.total_inactive_file ?? mem?.stats?.inactive_file ?? mem?.stats?.cache ?? 0;
    const memoryMiB = Math.max(0, (mem?.usage ?? 0) - cache) / 2 ** 20;
    return { cpu: Math.min(cpu, cpus * 100), memoryMiB };
  }
}

/**
 * Follow the engine's event stream; call `onGone` once if it ends or fails (the engine stopped or
 * the connection to it broke). Returns a function that stops watching without calling `onGone`.
 * `onActivity` hears about each container start and death (a hint to sample again soon).
 */
export function watchDockerEngine(docker: Docker, onGone: (reason: Error) => void, onActivity?: () => void): () => void {
  let stopped = false;
  let stream: (NodeJS.ReadableStream & { destroy?(): void }) | undefined;
  const gone = (reason: Error) => {
    if (stopped) return;
    stopped = true;
    stream?.destroy?.();
    onGone(reason);
  };
  docker
    .getEvents({ filters: { type: ['container'], event: ['start', 'die'] } })
    .then((s) => {
      stream = s as typeof stream;
      if (stopped) return stream?.destroy?.();
      // Like the stats timer, watching alone does not keep the process alive.
      (s as { socket?: { unref?(): void } }).socket?.unref?.();
      s.on('data', () => onActivity?.());
      s.on('error', (err: Error) => gone(err));
      s.on('end', () => gone(new Error('the engine closed its event stream')));
      s.on('close', () => gone(new Error('the connection to the engine closed')));
    })
    .catch((err: Error) => gone(err));
  return () => {
    stopped = true;
    stream?.destroy?.();
  };
}
