/**
 * Connecting one tunnelled connection to its container, shared by the location (relayed tunnels)
 * and the SDK (direct tunnels of the embedded location): containers often open their port a
 * moment after they start, so retry until the tunnel's timeout, then fail with a typed error.
 */
import { connect, type Socket } from 'node:net';
import { ConnectFailed, ContainerNotRunning, type TfnzError } from './errors';

const RETRY_MS = 200;

/** What the connect needs to know of the container, read afresh on every attempt. */
export interface TunnelTarget {
  id: string;
  status: string;
  privateIp?: string;
}

/**
 * Connect to port `port` of `target()`, retrying every 200 ms until `timeoutMs` has passed.
 * Resolves undefined when `abandoned()` turns true meanwhile; rejects with ConnectFailed or
 * ContainerNotRunning.
 */
export async function connectToContainer(
  target: () => TunnelTarget, port: number, timeoutMs: number, abandoned: () => boolean,
): Promise<Socket | undefined> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'not running';
  let container = target();
  while (!abandoned() && Date.now() < deadline) {
    container = target();
    const ip = container.status === 'running' ? container.privateIp : undefined;
    if (ip) {
      const socket = await tryConnect(ip, port).catch((err: Error) => ((lastError = err.message), undefined));
      if (socket) {
        if (abandoned()) socket.destroy();
        return abandoned() ? undefined : socket;
      }
    } else if (container.status !== 'spawning') {
      lastError = `container is ${container.status}`;
      break;
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  if (abandoned()) return undefined;
  container = target();
  const error: TfnzError = container.status === 'running'
    ? new ConnectFailed(`nothing accepted a connection on port ${port} of container ${container.id} within ${timeoutMs / 1000}s (${lastError})`)
    : new ContainerNotRunning(`container ${container.id} is ${container.status}; its tunnel cannot connect`);
  throw error;
}

function tryConnect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
