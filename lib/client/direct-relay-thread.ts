/**
 * The direct relay's thread: it owns every direct tunnel's listening socket and connections, so
 * tunnel bytes never wait for (nor slow down) the user's JavaScript. It connects each accepted
 * connection to the container (retrying while the container opens its port) and splices the two.
 * The SDK's thread tells it where each container is and when a tunnel closes; it tells the SDK's
 * thread what failed. Messages: direct-relay-messages.ts.
 */
import type { spliceSockets } from './tunnel-direct';
import type { retryConnect } from '../protocol/tunnel-connect';
import type { FromRelay, RelayTarget, ToRelay } from './direct-relay-messages';

/**
 * Runs on the relay thread, started from its source text (direct-relay.ts): it may use nothing from
 * this module's scope, only its parameters (themselves self-contained) and what it requires.
 */
export function relayThreadMain(splice: typeof spliceSockets, retry: typeof retryConnect): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const net = require('node:net') as typeof import('node:net');
  if (!parentPort) throw new Error('the direct relay runs on a worker thread');
  const port = parentPort;
  const post = (message: FromRelay) => port.postMessage(message);

  interface OpenTunnel {
    server: import('node:net').Server;
    target: RelayTarget;
    sockets: Set<import('node:net').Socket>;
    closed: boolean;
    /** A connection reached the current target (and the SDK's thread was told). */
    reached: boolean;
  }
  const tunnels = new Map<string, OpenTunnel>();

  const dial = (host: string, to: number) =>
    new Promise<import('node:net').Socket>((resolve, reject) => {
      const socket = net.connect({ host, port: to, allowHalfOpen: true, noDelay: true });
      socket.once('connect', () => (socket.removeListener('error', reject), resolve(socket)));
      socket.once('error', reject);
    });

  const accept = (id: string, tunnel: OpenTunnel, to: number, timeoutMs: number, local: import('node:net').Socket) => {
    tunnel.sockets.add(local);
    local.pause(); // until the container's end is connected; the kernel holds what arrives meanwhile
    local.on('error', () => undefined);
    const abandoned = () => tunnel.closed || local.destroyed;
    void retry(() => tunnel.target, to, timeoutMs, abandoned, dial).then(({ socket: remote, lastError }) => {
      if (!remote) {
        local.destroy();
        tunnel.sockets.delete(local);
        if (lastError !== undefined) post({ op: 'connect_failed', tunnel: id, lastError });
        return;
      }
      tunnel.sockets.add(remote);
      if (!tunnel.reached && remote.remoteAddress) {
        tunnel.reached = true;
        post({ op: 'connected', tunnel: id, ip: remote.remoteAddress });
      }
      splice(local, remote, () => (tunnel.sockets.delete(local), tunnel.sockets.delete(remote)));
    });
  };

  const listen = (m: Extract<ToRelay, { op: 'listen' }>) => {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    const tunnel: OpenTunnel = { server, target: m.target, sockets: new Set(), closed: false, reached: false };
    server.once('error', (err: NodeJS.ErrnoException) => post({ op: 'listen_failed', tunnel: m.tunnel, code: err.code, message: err.message }));
    server.listen(m.localPort, m.bind, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined); // accept errors (e.g. out of descriptors) only lose that connection
      server.on('connection', (local) => accept(m.tunnel, tunnel, m.port, m.timeoutMs, local));
      tunnels.set(m.tunnel, tunnel);
      post({ op: 'listening', tunnel: m.tunnel, localPort: (server.address() as import('node:net').AddressInfo).port });
    });
  };

  const close = (id: string) => {
    const tunnel = tunnels.get(id);
    if (!tunnel) return post({ op: 'closed', tunnel: id });
    tunnels.delete(id);
    tunnel.closed = true;
    for (const socket of tunnel.sockets) socket.destroy();
    tunnel.server.close(() => post({ op: 'closed', tunnel: id }));
  };

  port.on('message', (m: ToRelay) => {
    if (m.op === 'listen') listen(m);
    else if (m.op === 'close') close(m.tunnel);
    else {
      const tunnel = tunnels.get(m.tunnel);
      if (tunnel) {
        tunnel.target = m.target;
        tunnel.reached = false;
      }
    }
  });
}
