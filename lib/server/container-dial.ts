/**
 * How the location opens a TCP connection to a container (tunnels, the front door, wait
 * strategies): through its engine's `dial` when the engine has one (an overlay the location is not
 * on: a relay), else straight to the container's private address.
 */
import { connect, type Socket } from 'node:net';
import type { Engine } from '../engines/engine';

/** Resolves with a connected socket to `port` at `ip` (a container of `engine`); rejects on failure. */
export function dialContainer(engine: Engine, ip: string, port: number, timeoutMs?: number): Promise<Socket> {
  const dialled = engine.dial ? engine.dial(ip, port) : connectDirect(ip, port);
  if (timeoutMs === undefined) return dialled;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
  });
  return Promise.race([dialled, timeout]).finally(() => clearTimeout(timer)).catch((err: Error) => {
    // A dial that completes after the timeout is closed, not leaked.
    void dialled.then((socket) => socket.destroy(), () => undefined);
    throw err;
  });
}

function connectDirect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
