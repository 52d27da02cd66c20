/**
 * One container's resource use from the Docker Engine's streaming stats API (#16, ctr.stats$),
 * turned into ContainerStats the way `docker stats` computes them.
 */
import type Docker from 'dockerode';
import type { ContainerStats } from '../protocol';

/** The subset of the engine's stats reply used here. */
interface StatsReply {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
}

export function toContainerStats(r: StatsReply, now = Date.now()): ContainerStats {
  const cpu = r.cpu_stats;
  const pre = r.precpu_stats;
  const used = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const system = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  // The first sample has no previous one (precpu is empty): no rate yet.
  const cpuPercent = pre?.system_cpu_usage && used > 0 && system > 0 ? (used / system) * (cpu?.online_cpus || 1) * 100 : 0;
  const mem = r.memory_stats;
  const cache = mem?.stats?.total_inactive_file ?? mem?.stats?.inactive_file ?? mem?.stats?.cache ?? 0;
  const nets = Object.values(r.networks ?? {});
  const io = r.blkio_stats?.io_service_bytes_recursive ?? [];
  const block = (op: string) => io.filter((e) => e.op?.toLowerCase() === op).reduce((sum, e) => sum + (e.value ?? 0), 0);
  return {
    time: now,
    cpuPercent: Math.round(cpuPercent * 100) / 100,
    memoryBytes: Math.max(0, (mem?.usage ?? 0) - cache),
    memoryLimitBytes: mem?.limit ?? 0,
    networkRxBytes: nets.reduce((sum, n) => sum + (n.rx_bytes ?? 0), 0),
    networkTxBytes: nets.reduce((sum, n) => sum + (n.tx_bytes ?? 0), 0),
    blockReadBytes: block('read'),
    blockWriteBytes: block('write'),
  };
}

/** Follow the engine's stats stream (one JSON document a second); the returned function closes it. */
export async function streamDockerStats(docker: Docker, engineId: string, onSample: (s: ContainerStats) => void, onEnd: () => void): Promise<() => void> {
  const stream = (await docker.getContainer(engineId).stats({ stream: true })) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = '';
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      try {
        onSample(toContainerStats(JSON.parse(line) as StatsReply));
      } catch {
        // A document that is not JSON is skipped; the next one a second later will do.
      }
    }
  });
  stream.on('end', end);
  stream.on('close', end);
  stream.on('error', end);
  return () => {
    ended = true;
    stream.destroy();
  };
}
