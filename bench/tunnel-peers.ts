/**
 * The peers the tunnel figures are measured against, besides "direct to the private IP":
 * - docker-proxy: Docker's own published port (`-p 127.0.0.1::9000`), what a user of `docker run -p`
 *   or testcontainers' `getMappedPort` gets; a busybox container running the same servers.
 * - a remote location: `tfnz location` in its own process, so the location's half of a tunnel runs
 *   on its own JS thread and every byte crosses its WebSocket, as with any remote location.
 */
import type Docker from 'dockerode';
import { spawn, type ChildProcess } from 'node:child_process';
import { firstLine } from '../spec/support/processes';
import { benchLabels, ECHO_PORT, SERVERS_COMMAND, SINK_PORT, waitForPort } from './common';
import { withTimeout } from './stats';

export interface PublishedServers {
  /** Host ports docker-proxy listens on (127.0.0.1), for the sink and the echo server. */
  sinkPort: number;
  echoPort: number;
  remove(): Promise<void>;
}

/** A busybox container with SERVERS_COMMAND whose two ports Docker publishes on 127.0.0.1. */
export async function startPublishedServers(docker: Docker): Promise<PublishedServers> {
  const ports = [SINK_PORT, ECHO_PORT].map((p) => `${p}/tcp`);
  const container = await docker.createContainer({
    Image: 'busybox', Cmd: SERVERS_COMMAND, Labels: benchLabels('docker-proxy'),
    ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])),
    HostConfig: { PortBindings: Object.fromEntries(ports.map((p) => [p, [{ HostIp: '127.0.0.1', HostPort: '' }]])) },
  });
  const remove = () => container.remove({ force: true }).then(() => undefined, () => undefined);
  try {
    await container.start();
    const info = await container.inspect();
    const hostPort = (p: string) => {
      const binding = info.NetworkSettings.Ports[p]?.[0];
      if (!binding) throw new Error(`docker published no host port for ${p} (is the userland proxy off?)`);
      return Number(binding.HostPort);
    };
    const published = { sinkPort: hostPort(ports[0]), echoPort: hostPort(ports[1]), remove };
    // docker-proxy accepts at once; wait until the servers behind it listen.
    const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress;
    if (!ip) throw new Error('the docker-proxy peer has no private IP');
    await waitForPort(ip, SINK_PORT);
    await waitForPort(ip, ECHO_PORT);
    return published;
  } catch (err) {
    await remove();
    throw err;
  }
}

export interface RemoteLocation {
  url: string;
  stop(): void;
}

/** `tfnz location --open` in a child process on a free loopback port; resolves with its URL. */
export async function startRemoteLocation(name: string): Promise<RemoteLocation> {
  const child: ChildProcess = spawn(process.execPath, [
    '--import', 'tsx', 'lib/cli/main.ts', 'location', '--open', '-q', '--name', `${name}-${process.pid}`,
    '--listen', '127.0.0.1:0', '--http-port', '0', '--https-port', '0',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => void child.kill('SIGTERM');
  try {
    const url = await withTimeout(firstLine(child), 60_000, 'starting tfnz location');
    return { url, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
