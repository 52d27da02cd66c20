/**
 * Commands run on the host of a Docker Engine, for an engine on another machine (issue #15): the
 * location reaches that host only through its engine's API, so it keeps one small "agent"
 * container there and runs commands through `docker exec` in it.
 *
 * The agent shares the host's network namespace (`--network host`) and process table
 * (`--pid host`), with the capabilities to enter namespaces and change the packet filter. A command
 * enters the mount namespace of the host's own dockerd (`nsenter -t <dockerd> -m`): it runs the
 * host's own binaries (its `iptables`, the very one dockerd uses) on the host's own network stack.
 * Nothing needs installing on the host, and the agent image only needs busybox's `sh`, `pidof`,
 * `readlink` and `nsenter`. (Not pid 1's namespace: a VM's or sandbox's init may refuse to be
 * entered, as on the machine tfnz is tested on; the engine's dockerd is always there.)
 *
 * The agent holds no state: what its commands change lives in the host's kernel. It restarts with
 * its engine (`unless-stopped`); `ensure()` tells the caller when the container it talks to is not
 * the one it talked to before, so that state the host may have lost meanwhile (a reboot flushes
 * packet-filter rules) is put back.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { EngineError } from '../protocol';

/** Image the agent runs; every node needs it (the test topology and `npm run prepare-engine` load it). */
export const HOST_AGENT_IMAGE = 'busybox:latest';
/** A command on the host gives up after this long (a cut link must not hold the caller forever). */
const COMMAND_TIMEOUT_MS = 10_000;
/** What a host command may need: the host's sbin directories too. */
const HOST_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/**
 * Runs "$@" in the mount namespace of the dockerd that shares the agent's network namespace. Only a
 * process whose argv[0] is dockerd: while a container starts, dockerd re-executes itself for a few
 * ms (libnetwork-setkey, same executable and namespace), and entering that one failed once it ended.
 */
const ON_HOST = `me=$(readlink /proc/self/ns/net)
for p in $(pidof dockerd); do
  arg0=$(tr '\\0' '\\n' < /proc/$p/cmdline 2>/dev/null | head -n 1)
  [ "\${arg0##*/}" = dockerd ] || continue
  [ "$(readlink /proc/$p/ns/net)" = "$me" ] && exec nsenter -t "$p" -m -- "$@"
done
echo "no dockerd found in the agent's network namespace" >&2; exit 127`;
/**
 * The agent's label names its location, but not as `tfnz.location`: it is no session's container,
 * so the reaper and the location's container counts leave it alone.
 */
export const HOST_AGENT_LABEL = 'tfnz.host-agent';

/** What a command on the host printed, and how it ended. */
export interface HostCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs commands on an engine's host for one location (`Engine.hostAgent`). */
export interface HostAgent {
  /**
   * Make sure the agent runs. Resolves true when the agent is new or was restarted since the last
   * call (the first call is always true), so the host may have lost what earlier commands set.
   */
  ensure(): Promise<boolean>;
  /** Run `argv` with the host's own binaries on its own network stack. */
  run(argv: string[]): Promise<HostCommandResult>;
  /** Stop and remove the agent container. */
  remove(): Promise<void>;
}

/** The agent on one Docker Engine's host, for one location. */
export class DockerHostAgent implements HostAgent {
  private readonly name: string;
  /** `container id @ start time` of the agent last seen running. */
  private seen?: string;

  constructor(private readonly docker: Docker, private readonly location: string, private readonly image = HOST_AGENT_IMAGE) {
    this.name = `tfnz-agent-${location.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100)}`;
  }

  async ensure(): Promise<boolean> {
    let info = await this.inspect();
    if (!info?.State.Running) {
      if (info) await this.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
      await this.create();
      info = await this.inspect();
      if (!info?.State.Running) throw new EngineError(`the host agent ${this.name} did not start`);
    }
    const identity = `${info.Id}@${info.State.StartedAt}`;
    const fresh = identity !== this.seen;
    this.seen = identity;
    return fresh;
  }

  async run(argv: string[]): Promise<HostCommandResult> {
    return withTimeout(this.exec(argv), COMMAND_TIMEOUT_MS, `${argv[0]} on the host timed out`);
  }

  async remove(): Promise<void> {
    this.seen = undefined;
    await this.docker.getContainer(this.name).remove({ force: true }).catch(() => undefined);
  }

  private async exec(argv: string[]): Promise<HostCommandResult> {
    const exec = await this.docker.getContainer(this.name).exec({
      Cmd: ['sh', '-c', ON_HOST, 'tfnz-host', ...argv], Env: [HOST_PATH], AttachStdout: true, AttachStderr: true,
    });
    const stream = await exec.start({});
    const [stdout, stderr] = [new PassThrough(), new PassThrough()];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on('data', (c: Buffer) => out.push(c));
    stderr.on('data', (c: Buffer) => err.push(c));
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(stream, stdout, stderr);
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    const { ExitCode } = await exec.inspect();
    return { code: ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  private async inspect(): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(this.name).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  private async create(): Promise<void> {
    try {
      await this.docker.createContainer({
        name: this.name,
        Image: this.image,
        // Sleeps until stopped; the shell's trap makes `docker stop` quick.
        Entrypoint: ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'],
        Labels: { [HOST_AGENT_LABEL]: this.location },
        HostConfig: {
          NetworkMode: 'host', PidMode: 'host', RestartPolicy: { Name: 'unless-stopped' },
          // Not --privileged: a host whose own capability set is short (a sandbox) refuses that.
          CapAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_CHROOT', 'SYS_PTRACE'],
          SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        },
      });
    } catch (err) {
      // Created concurrently by another call: that one is as good.
      if ((err as { statusCode?: number }).statusCode !== 409) {
        throw new EngineError(`could not create the host agent ${this.name} from image ${this.image} (load that image into the engine): ${(err as Error).message}`);
      }
    }
    await this.docker.getContainer(this.name).start().catch((err: { statusCode?: number; message: string }) => {
      if (err.statusCode !== 304) throw new EngineError(`could not start the host agent ${this.name}: ${err.message}`);
    });
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineError(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
