/** The Docker Engine adapter: one node per Docker Engine API endpoint, through dockerode. */
import Docker from 'dockerode';
import { dockerCall, engineError, streamEnded } from './docker-streams';
import { hijackOutput } from './docker-hijack';
import { EngineError, ImageNotFound, SpawnFailed, type ContainerStats, type HealthStatus, type NodeStats, type OutputStream, type RegistryAuth } from '../protocol';
import type { Attachment, ContainerResources, ContainerSpec, Engine, EngineDescription, LabelledContainer, LabelledVolume, TaggedImage } from './engine';
import type { BuildOutput, BuildSpec, ExecHandle, ExecSpec, FileSink, FileSource } from './engine';
import { buildOnDocker } from './docker-build';
import { dockerExec } from './docker-exec';
import { streamDockerStats } from './docker-container-stats';
import { readContainerFile, writeContainerFile } from './docker-files';
import { copyDockerVolume, createDockerVolume, dockerVolumeUsers, listDockerVolumes, removeDockerVolume } from './docker-volumes';
import { DockerStatsSampler, watchDockerEngine } from './docker-stats';
import { dockerOptions } from './engine-address';
import { checkDockerRegistryAccess, pullDockerImage, type PullReport } from './registry-pull';
import { DockerHostAgent, type HostAgent } from './docker-host-agent';
import { DockerNetworkJoins } from './docker-network-joins';
import { containerNetwork, type ContainerNetwork, type NetworkInspect } from './container-network';
import { networkInterfaces } from 'node:os';

/** How a `DockerEngine` places what it creates (the swarm node source sets both). */
export interface DockerEngineOptions {
  /** The network every container joins instead of the default bridge (an attachable overlay). */
  network?: string;
  /** The node's labels (swarm node labels), reported by `describe()`. */
  labels?: Record<string, string>;
}

/** The file a sleeping container's placeholder waits for; `wake()` creates it. */
const WAKE_FILE = '/.tfnz-wake';
/**
 * Placeholder main process for `sleep`: poll for the wake file, then exec the real command so it
 * becomes PID 1 and inherits the attached stdout. Needs /bin/sh in the image.
 */
const SLEEPER = `trap 'exit 0' TERM; while [ ! -e ${WAKE_FILE} ]; do sleep 0.1; done; rm -f ${WAKE_FILE}; exec "$@"`;

/**
 * A Docker Engine as a node of the location, through dockerode (an optional package:
 * `npm install dockerode tar-stream`).
 *
 * @example
 * ```ts
 * import { DockerEngine, LocationServer } from 'tfnz/server';
 * const server = await LocationServer.start({ engines: [new DockerEngine('tcp://10.0.0.8:2375')] });
 * ```
 */
export class DockerEngine implements Engine {
  readonly address: string;
  private readonly docker: Docker;
  /** How to reach the engine, for the connections dockerode does not make (docker-hijack.ts). */
  private readonly options_: Docker.DockerOptions;
  private readonly stats: DockerStatsSampler;
  private readonly joins: DockerNetworkJoins;

  /** `address`: unix:///path.sock, tcp://host:port or omitted for the local default socket. */
  constructor(address = 'unix:///var/run/docker.sock', private readonly options: DockerEngineOptions = {}) {
    this.address = address;
    this.options_ = dockerOptions(address);
    this.docker = new Docker(this.options_);
    this.stats = new DockerStatsSampler(this.docker, address.startsWith('unix://'));
    this.joins = new DockerNetworkJoins(this.docker, options.network);
  }

  async describe(): Promise<EngineDescription> {
    const info = await this.call(() => this.docker.info(), 'reading engine info');
    return { name: String(info.Name), cores: Number(info.NCPU), memoryMiB: Math.round(Number(info.MemTotal) / 2 ** 20), labels: this.options.labels };
  }

  /** Spare capacity of this engine alone: its cores and memory less its containers' use (docker-stats.ts). */
  async sampleStats(): Promise<NodeStats> {
    return this.call(() => this.stats.sample(), 'reading engine stats');
  }

  /** Call `onGone` once when the engine stops answering (its event stream ends); returns a stop function. */
  watch(onGone: (reason: Error) => void, onActivity?: () => void): () => void {
    const stop = watchDockerEngine(this.docker, onGone, onActivity);
    return () => {
      stop();
      this.joins.close(); // the pool stops watching when it closes: the joins' event stream goes too
    };
  }

  /** #15: commands on this engine's host, through an agent container (docker-host-agent.ts). */
  hostAgent(location: string): HostAgent {
    return new DockerHostAgent(this.docker, location);
  }

  async create(spec: ContainerSpec): Promise<string> {
    this.joins.listen(); // up by the time this container starts (startWithAddress)
    // Only a sleeper needs the image's own command; otherwise create says itself when the image is missing.
    const image = spec.sleep ? await this.inspectImage(spec.image) : undefined;
    const o = spec.options ?? {};
    let entrypoint: string[] | undefined;
    let cmd: string[] | undefined;
    if (o.entrypoint) [entrypoint, cmd] = [o.entrypoint, spec.command ?? []];
    else if (spec.command) [entrypoint, cmd] = [[spec.command[0]], spec.command.slice(1)];
    if (spec.sleep) {
      const real = [...(entrypoint ?? image?.Config?.Entrypoint ?? []), ...(cmd ?? image?.Config?.Cmd ?? [])];
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
          // The user's labels first: tfnz's own win (container-options.ts refuses tfnz. names anyway).
          Labels: { ...o.labels, ...spec.labels },
          User: o.user,
          WorkingDir: o.workdir,
          Healthcheck: o.healthcheck && {
            Test: o.healthcheck.command, Interval: o.healthcheck.intervalMs * 1e6, Timeout: o.healthcheck.timeoutMs * 1e6,
            Retries: o.healthcheck.retries, StartPeriod: o.healthcheck.startPeriodMs * 1e6,
          },
          OpenStdin: spec.stdin,
          StdinOnce: false,
          AttachStdin: spec.stdin,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          HostConfig: {
            Init: false, Binds: spec.mounts?.map((m) => `${m.volume}:${m.target}`), NetworkMode: this.options.network, ...hostSettings(spec), Dns: spec.dns,
            LogConfig: spec.engineLog && { Type: spec.engineLog.driver, Config: spec.engineLog.options ?? {} },
          },
        }),
      `creating a container from '${spec.image}'`,
      (err) => (statusOf(err) === 404 && /no such image/i.test(messageOf(err)) ? this.imageNotFound(spec.image) : undefined),
    );
    return created.id;
  }

  async attach(engineId: string, withStdin: boolean, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<Attachment> {
    // Hijacked even without stdin, on a connection of its own read with onread (docker-hijack.ts):
    // a web container's log line per request then costs no HTTP parse and no stream machinery,
    // and lines that come close together are taken in one read (output-reader.ts).
    const { socket, reader } = await hijackOutput(
      this.options_,
      { method: 'POST', path: `/containers/${encodeURIComponent(engineId)}/attach?stream=1&stdout=1&stderr=1&stdin=${withStdin ? 1 : 0}` },
      false,
      onOutput,
    ).catch((err: unknown) => {
      throw engineError(err, 'attaching to the container');
    });
    return {
      pause: () => reader.pause(),
      resume: () => reader.resume(),
      write: (data) => void socket.write(data),
      ended: streamEnded(socket),
    };
  }

  async start(engineId: string): Promise<void> {
    await this.call(() => this.docker.getContainer(engineId).start(), 'starting the container');
  }

  /**
   * Start, learning the address as soon as the engine puts the container on its network
   * (docker-network-joins.ts): `whileStarting(ip)` runs then, during the start. Resolves once both
   * are done, with the address, or undefined when it was not learned early (ask privateIp).
   * A failed start rejects only after `whileStarting` has settled.
   */
  async startWithAddress(engineId: string, whileStarting: (ip: string) => Promise<void>): Promise<string | undefined> {
    const joined = this.joins.expect(engineId);
    const guarded = joined.address.then(async (ip) => (ip === undefined ? undefined : (await whileStarting(ip), ip)));
    guarded.catch(() => undefined); // awaited below; a failed start must not leave it unhandled
    try {
      await this.start(engineId);
    } catch (err) {
      joined.giveUp();
      await guarded.catch(() => undefined);
      throw err;
    }
    joined.giveUp();
    return guarded;
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
    const network = this.options.network && info.NetworkSettings?.Networks?.[this.options.network]?.IPAddress;
    if (network) return network;
    const networks = Object.values(info.NetworkSettings?.Networks ?? {});
    return (info.NetworkSettings as { IPAddress?: string } | undefined)?.IPAddress || networks.find((n) => n.IPAddress)?.IPAddress || undefined;
  }

  /**
   * The IPv4 subnet and gateway of the network containers join here (the default bridge: docker0's).
   * Asked once per spawn, so the answer is kept: a network's addresses do not change while it exists.
   */
  containerNetwork(): Promise<{ subnet: string; gateway: string } | undefined> {
    this.network ??= this.inspectContainerNetwork().catch((err: unknown) => {
      this.network = undefined; // ask again next time
      throw err;
    });
    return this.network;
  }

  private network?: Promise<ContainerNetwork | undefined>;

  private async inspectContainerNetwork(): Promise<ContainerNetwork | undefined> {
    const network = await this.call(() => this.docker.getNetwork(this.options.network ?? 'bridge').inspect(), 'inspecting the container network');
    return containerNetwork(network as NetworkInspect, networkInterfaces());
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

  async health(engineId: string): Promise<HealthStatus> {
    const info = await this.call(() => this.docker.getContainer(engineId).inspect(), 'reading the container\'s health');
    const status = info.State?.Health?.Status;
    return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : 'none';
  }

  streamStats(engineId: string, onSample: (stats: ContainerStats) => void, onEnd: () => void): Promise<() => void> {
    return this.call(() => streamDockerStats(this.docker, engineId, onSample, onEnd), 'reading the container\'s stats');
  }

  exec(engineId: string, spec: ExecSpec, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<ExecHandle> {
    return this.call(() => dockerExec(this.docker, this.options_, engineId, spec, onOutput), 'starting a process in the container');
  }

  async kill(engineId: string): Promise<void> {
    try {
      await this.docker.getContainer(engineId).kill();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) return; // not running: nothing to stop
      throw engineError(err, 'stopping the container');
    }
  }

  readFile(engineId: string, path: string): Promise<FileSource> {
    return readContainerFile(this.docker, engineId, path);
  }

  writeFile(engineId: string, path: string, size: number): Promise<FileSink> {
    return writeContainerFile(this.docker, engineId, path, size);
  }

  createVolume(name: string, labels: Record<string, string>): Promise<void> {
    return createDockerVolume(this.docker, name, labels);
  }

  removeVolume(name: string): Promise<boolean> {
    return removeDockerVolume(this.docker, name);
  }

  listVolumes(labels: Record<string, string>): Promise<LabelledVolume[]> {
    return listDockerVolumes(this.docker, labels);
  }

  volumeUsers(name: string, runningOnly: boolean): Promise<string[]> {
    return dockerVolumeUsers(this.docker, name, runningOnly);
  }

  copyVolume(from: string, to: string, labels: Record<string, string>): Promise<void> {
    return copyDockerVolume(this.docker, from, to, labels);
  }

  async list(labels: Record<string, string>): Promise<LabelledContainer[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const found = await this.call(() => this.docker.listContainers({ all: true, filters }), 'listing containers');
    return found.map((c) => ({ engineId: c.Id, labels: c.Labels ?? {}, running: c.State === 'running' }));
  }

  async imageId(ref: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(ref).inspect()).Id;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw engineError(err, `looking up image '${ref}'`);
    }
  }

  async taggedImageId(ref: string): Promise<string | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return info.RepoTags?.length ? info.Id : undefined;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw engineError(err, `looking up image '${ref}'`);
    }
  }

  async imageLayerStacks(): Promise<string[][]> {
    const images = await this.call(() => this.docker.listImages({ all: false }), 'listing images');
    const stacks = await Promise.all(images.map((i) => this.docker.getImage(i.Id).inspect().then((info) => info.RootFS?.Layers ?? [], () => [])));
    return stacks.filter((s) => s.length > 0);
  }

  async loadImage(archive: NodeJS.ReadableStream): Promise<void> {
    const response = await this.call(() => this.docker.loadImage(archive, { quiet: true }), 'loading an image');
    // The engine answers 200 and reports a refused archive inside the response stream.
    await new Promise<void>((resolve, reject) =>
      this.docker.modem.followProgress(response, (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err?.message ?? output?.find((o) => o.error)?.error;
        if (failed) reject(new EngineError(`engine ${this.address} refused the image: ${failed}`));
        else resolve();
      }),
    );
  }

  async removeImage(id: string): Promise<void> {
    try {
      await this.docker.getImage(id).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError(err, `removing image ${id.slice(0, 19)}…`);
    }
  }

  pullImage(ref: string, registry: string, auth: RegistryAuth | undefined, onProgress: (p: PullReport) => void): Promise<string> {
    return pullDockerImage(this.docker, this.address, ref, registry, auth, onProgress);
  }

  checkRegistryAccess(ref: string, registry: string, auth: RegistryAuth | undefined): Promise<void> {
    return checkDockerRegistryAccess(this.docker, this.address, ref, registry, auth);
  }

  async taggedImage(ref: string): Promise<TaggedImage | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return info.RepoTags?.length ? { id: info.Id, repoDigests: info.RepoDigests ?? [] } : undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw engineError(err, `looking up image '${ref}'`);
    }
  }

  async imageRepoDigests(ref: string): Promise<string[]> {
    try {
      return (await this.docker.getImage(ref).inspect()).RepoDigests ?? [];
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return [];
      throw engineError(err, `looking up image '${ref}'`);
    }
  }

  /** Build a Dockerfile (docker-build.ts); resolves with the untagged image's id. */
  build(context: NodeJS.ReadableStream, spec: BuildSpec, onOutput: (out: BuildOutput) => void): Promise<string> {
    return buildOnDocker(this.docker, context, spec, onOutput);
  }

  /** `docker save` of one image. */
  saveImage(id: string): Promise<NodeJS.ReadableStream> {
    return this.call(() => this.docker.getImage(id).get(), `saving image ${id.slice(0, 19)}…`);
  }

  private async inspectImage(image: string): Promise<Docker.ImageInspectInfo> {
    try {
      return await this.docker.getImage(image).inspect();
    } catch (err) {
      if (statusOf(err) === 404) throw this.imageNotFound(image);
      throw engineError(err, `looking up image '${image}'`);
    }
  }

  private imageNotFound(image: string): ImageNotFound {
    return new ImageNotFound(`image '${image}' is not on node engine ${this.address}; build or load it there (docker build / docker load) and spawn again`);
  }

  /** dockerCall; `mapped` may turn a failure into an error of our own first. */
  private async call<T>(fn: () => Promise<T>, doing: string, mapped?: (err: unknown) => Error | undefined): Promise<T> {
    if (!mapped) return dockerCall(fn, doing);
    try {
      return await fn();
    } catch (err) {
      throw mapped(err) ?? engineError(err, doing);
    }
  }
}
/** ContainerResources in the Engine API's terms. */
/**
 * The HostConfig for a spawn: the user's options (#16) within the location's caps. A user's
 * memory or CPU limit above the location's is lowered to it; the location's dropped capabilities
 * stay dropped whatever the user adds.
 */
function hostSettings(spec: ContainerSpec): Record<string, unknown> {
  const o = spec.options ?? {};
  const r = spec.resources;
  const host: Record<string, unknown> = {
    ...hostLimits(r),
    CapAdd: o.capAdd?.filter((c) => !r?.dropCapabilities.includes(c)), Tmpfs: o.tmpfs,
    ShmSize: o.shmSizeMb && o.shmSizeMb * 2 ** 20, Privileged: o.privileged,
  };
  if (o.memoryMb !== undefined) {
    const memory = Math.min(o.memoryMb * 2 ** 20, r?.memoryBytes ?? Infinity);
    // No swap beyond a limit the user chose: the limit the container sees is the limit it gets.
    Object.assign(host, { Memory: memory, MemorySwap: memory });
  }
  if (o.cpus !== undefined) host.NanoCpus = Math.round(Math.min(o.cpus, r?.cpus ?? Infinity) * 1e9);
  if (o.capDrop || r) host.CapDrop = [...new Set([...(r?.dropCapabilities ?? []), ...(o.capDrop ?? [])])];
  return host;
}

function hostLimits(r: ContainerResources | undefined): Record<string, unknown> {
  if (!r) return {};
  return {
    PidsLimit: r.pids,
    Memory: r.memoryBytes,
    MemorySwap: r.memoryBytes * 2,
    NanoCpus: Math.round(r.cpus * 1e9),
    CapDrop: r.dropCapabilities,
  };
}

/** The HTTP status of a failed dockerode call, if it had one. */
function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** What the engine said when a dockerode call failed. */
function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e.json?.message ?? e.message ?? '';
}
