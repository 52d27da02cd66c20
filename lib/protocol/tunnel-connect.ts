/**
 * Connecting one tunnelled connection to its container, shared by the location (relayed tunnels)
 * and the SDK (direct tunnels of the embedded location): containers often open their port a
 * moment after they start, so retry until the tunnel's timeout, then fail with a typed error.
 */
import { connect, type Socket } from 'node:net';
import { ConnectFailed, ContainerNotRunning, type TfnzError } from './errors';

/** What the connect needs to know of the container, read afresh on every attempt. */
export interface TunnelTarget {
  id: string;
  status: string;
  privateIp?: string;
}

/** Opens one TCP connection to `ip`:`port` (default: straight there; a swarm node's relay otherwise). */
export type Dial = (ip: string, port: number) => Promise<Socket>;

/** How `retryConnect` ended: connected, abandoned (neither field), or given up with the last reason. */
export interface RetryOutcome {
  socket?: Socket;
  lastError?: string;
}

/**
 * Connect to port `port` of `target()`, retrying every 200 ms until `timeoutMs` has passed.
 * Resolves undefined when `abandoned()` turns true meanwhile; rejects with ConnectFailed or
 * ContainerNotRunning.
 */
export async function connectToContainer(
  target: () => TunnelTarget, port: number, timeoutMs: number, abandoned: () => boolean, dial: Dial = tryConnect,
): Promise<Socket | undefined> {
  const outcome = await retryConnect(target, port, timeoutMs, abandoned, dial);
  if (outcome.lastError === undefined) return outcome.socket;
  throw connectFailure(target(), port, timeoutMs, outcome.lastError);
}

/**
 * The retry loop of `connectToContainer`, without the typed error. Self-contained (it uses nothing
 * from this module's scope): the direct tunnels' relay thread runs it from its source text.
 */
export async function retryConnect(
  target: () => TunnelTarget, port: number, timeoutMs: number, abandoned: () => boolean, dial: Dial, retryMs = 200,
): Promise<RetryOutcome> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'not running';
  while (!abandoned() && Date.now() < deadline) {
    const container = target();
    const ip = container.status === 'running' ? container.privateIp : undefined;
    if (ip) {
      const socket = await dial(ip, port).catch((err: Error) => ((lastError = err.message), undefined));
      if (socket) {
        if (abandoned()) socket.destroy();
        return abandoned() ? {} : { socket };
      }
    } else if (container.status !== 'spawning') {
      lastError = `container is ${container.status}`;
      break;
    }
    await new Promise((r) => setTimeout(r, retryMs));
  }
  return abandoned() ? {} : { lastError };
}

/** The typed error for a connection that `retryConnect` gave up on, from the container's state now. */
export function connectFailure(container: TunnelTarget, port: number, timeoutMs: number, lastError: string): TfnzError {
  return container.status === 'running'
    ? new ConnectFailed(`nothing accepted a connection on port ${port} of container ${container.id} within ${timeoutMs / 1000}s (${lastError})`)
    : new ContainerNotRunning(`container ${container.id} is ${container.status}; its tunnel cannot connect`);
}

/** A TCP connection to host:port, half-open allowed and without Nagle (what every tunnel path dials). */
export function tryConnect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
