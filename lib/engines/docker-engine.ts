/** The Docker Engine adapter: one node per Docker Engine API endpoint, through dockerode. */
import Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import { EngineError, ImageNotFound, SpawnFailed, type NodeStats, type OutputStream } from '../protocol';
import type { Attachment, ContainerSpec, Engine, EngineDescription, LabelledContainer } from './engine';

/** The file a sleeping container's placeholder waits for; `wake()` creates it. */
const WAKE_FILE = '/.tfnz-wake';
/**
 * Placeholder main process for `sleep`: poll for the wake file, then exec the real command so it
 * becomes PID 1 and inherits the attached stdout. Needs /bin/sh in the image.
 */
const SLEEPER = `trap 'exit 0' TERM; while [ ! -e ${WAKE_FILE} ]; do sleep 0.1; done; rm -f ${WAKE_FILE}; exec "$@"`;

export class DockerEngine implements Engine {
  readonly address: string;
  private readonly docker: Docker;
  private lastCpu?: { idle: number; total: number };
  private lastSwap?: { pages: number; at: number };

  /** `address`: unix:///path.sock, tcp://host:port or omitted for the local default socket. */
  constructor(address = 'unix:///var/run/docker.sock') {
    this.address = address;
    this.docker = new Docker(dockerOptions(address));
  }

  async describe(): Promise<EngineDescription> {
    const info = await this.call(() => this.docker.info(), 'reading engine info');
    return { name: String(info.Name), cores: Number(info.NCPU), memoryMiB: Math.round(Number(info.MemTotal) / 2 ** 20) };
  }

  /**
   * Spare capacity. For an engine on this machine, from /proc (idle CPU since the last sample,
   * available memory, swap traffic); otherwise from the engine's totals.
   */
  async sampleStats(): Promise<NodeStats> {
    const info = await this.call(() => this.docker.info(), 'reading engine info');
    const containers = Number(info.ContainersRunning) || 0;
    if (!this.address.startsWith('unix://')) {
      return { cpu: Number(info.NCPU) * 100, memory: Math.round(Number(info.MemTotal) / 2 ** 20), paging: 0, containers };
    }
    const [stat, meminfo, vmstat] = await Promise.all([
      readFile('/proc/stat', 'utf8'),
      readFile('/proc/meminfo', 'utf8'),
      readFile('/proc/vmstat', 'utf8'),
    ]);
    const cpuFields = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = cpuFields[3] + (cpuFields[4] ?? 0);
    const total = cpuFields.reduce((a, b) => a + b, 0);
    const cores = Number(info.NCPU) || 1;
    let idleShare = 1;
    if (this.lastCpu && total > this.lastCpu.total) idleShare = (idle - this.lastCpu.idle) / (total - this.lastCpu.total);
    this.lastCpu = { idle, total };
    const available = Number(/MemAvailable:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024;
    const pages = ['pswpin', 'pswpout'].reduce((sum, k) => sum + Number(new RegExp(`${k} (\\d+)`).exec(vmstat)?.[1] ?? 0), 0);
    const now = Date.now();
    let paging = 0;
    if (this.lastSwap && now > this.lastSwap.at) paging = ((pages - this.lastSwap.pages) * 1000) / (now - this.lastSwap.at);
    this.lastSwap = { pages, at: now };
    return { cpu: Math.round(idleShare * cores * 100), memory: Math.round(available), paging: Math.round(paging), containers };
  }

  async create(spec: ContainerSpec): Promise<string> {
    const image = await this.inspectImage(spec.image);
    let entrypoint: string[] | undefined;
    let cmd: string[] | undefined;
    if (spec.command) [entrypoint, cmd] = [[spec.command[0]], spec.command.slice(1)];
    if (spec.sleep) {
      const real = [...(entrypoint ?? image.Config?.Entrypoint ?? []), ...(cmd ?? image.Config?.Cmd ?? [])];
      if (real.length === 0) throw new SpawnFailed(`image '${spec.image}' has no command to run; pass one with { command: [...] }`);
      [entrypoint, cmd] = [['/bin/sh', '-c', SLEEPER, 'tfnz-sleeper'], real];
    }
    const created = await this.call(
      () =>
        this.docker.createContainer({
          name: spec.name,
          Image: spec.image,
          Env: spec.env.map(([k, v]) => `${k}=${v}`),
          Entrypoint: entrypoint,
          Cmd: cmd,
          Labels: spec.labels,
          OpenStdin: spec.stdin,
          StdinOnce: false,
          AttachStdin: spec.stdin,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          HostConfig: { Init: false },
        }),
      `creating a container from '${spec.image}'`,
    );
    return created.id;
  }

  async attach(engineId: string, withStdin: boolean, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<Attachment> {
    const stream = (await this.call(
      () => this.docker.getContainer(engineId).attach({ stream: true, stdout: true, stderr: true, stdin: withStdin, hijack: withStdin }),
      'attaching to the container',
    )) as NodeJS.ReadWriteStream & { pause(): void; resume(): void; destroy?(): void };
    this.docker.modem.demuxStream(stream, sink('stdout', onOutput), sink('stderr', onOutput));
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    return {
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      write: (data) => void stream.write(data),
      ended,
    };
  }

  async start(engineId: string): Promise<void> {
    await this.call(() => this.docker.getContainer(engineId).start(), 'starting the container');
  }

  async wake(engineId: string): Promise<void> {
    const exec = await this.call(
      () => this.docker.getContainer(engineId).exec({ Cmd: ['/bin/sh', '-c', `: > ${WAKE_FILE}`] }),
      'waking the container',
    );
    await this.call(() => exec.start({ Detach: true }), 'waking the container');
  }

  async wait(engineId: string): Promise<number> {
    const result = await this.call(() => this.docker.getContainer(engineId).wait(), 'waiting for the container');
    return Number(result.StatusCode);
  }

  async privateIp(engineId: string): Promise<string | undefined> {
    const info = await this.call(() => this.docker.getContainer(engineId).inspect(), 'inspecting the container');
    const networks = Object.values(info.NetworkSettings?.Networks ?? {});
    return (info.NetworkSettings as { IPAddress?: string } | undefined)?.IPAddress || networks.find((n) => n.IPAddress)?.IPAddress || undefined;
  }

  async remove(engineId: string): Promise<void> {
    try {
      await this.docker.getContainer(engineId).remove({ force: true, v: true });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404 || status === 409) return; // gone already, or removal in progress
      throw engineError(err, 'removing the container');
    }
  }

  async list(labels: Record<string, string>): Promise<LabelledContainer[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const found = await this.call(() => this.docker.listContainers({ all: true, filters }), 'listing containers');
    return found.map((c) => ({ engineId: c.Id, labels: c.Labels ?? {}, running: c.State === 'running' }));
  }

  private async inspectImage(image: string): Promise<Docker.ImageInspectInfo> {
    try {
      return await this.docker.getImage(image).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        throw new ImageNotFound(
          `image '${image}' is not on node engine ${this.address}; build or load it there (docker build / docker load) and spawn again`,
        );
      }
      throw engineError(err, `looking up image '${image}'`);
    }
  }

  private async call<T>(fn: () => Promise<T>, doing: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw engineError(err, doing);
    }
  }
}

/** demuxStream only ever calls write(); hand it that and nothing else. */
function sink(stream: OutputStream, onOutput: (stream: OutputStream, data: Buffer) => void): NodeJS.WritableStream {
  return { write: (data: Buffer) => (onOutput(stream, data), true) } as unknown as NodeJS.WritableStream;
}

function engineError(err: unknown, doing: string): Error {
  if (err instanceof EngineError || err instanceof ImageNotFound || err instanceof SpawnFailed) return err;
  const e = err as { json?: { message?: string }; message?: string; code?: string };
  const detail = e.json?.message ?? e.message ?? String(err);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
    return new EngineError(`Docker Engine is not reachable while ${doing} (${detail}); is dockerd running?`);
  }
  return new EngineError(`Docker Engine failed while ${doing}: ${detail}`);
}

function dockerOptions(address: string): Docker.DockerOptions {
  const url = new URL(address);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  if (url.protocol === 'https:') return { host: url.hostname, port: Number(url.port || 2376), protocol: 'https' };
  throw new EngineError(`engine address '${address}' is not unix://, tcp://, http:// or https://`);
}
