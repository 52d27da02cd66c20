/**
 * A front-door worker process (forked by front-door-workers.ts): it serves plain-HTTP connections
 * the location passes it with the fast path (front-door-fast.ts), from its copy of the routes
 * (front-door-routes.ts), so the proxying runs on more cores than the location's one event loop,
 * as nginx runs a worker per core. Whatever the fast path hands off goes back to the location
 * with its socket and the bytes already read off it, where node:http's path answers it.
 * It exits when the location goes (its IPC channel closes).
 */
import type { Socket } from 'node:net';
import { FastPath } from './front-door-fast';
import { WorkerRoutes } from './front-door-routes';
import type { FromWorker, ToWorker } from './front-door-workers';

const routes = new WorkerRoutes();
const fast = new FastPath({ route: (host) => routes.route(host), resolve: routes.resolve, handOff: handBack });

function send(message: FromWorker, socket?: Socket): void {
  process.send?.(message, socket, (err: Error | null) => {
    if (err) socket?.destroy(); // the location is going: nobody can answer this connection now
  });
}

/** The connection back to the location, at a request's start, with what was read of it. */
function handBack(socket: Socket, unread: Buffer | undefined): void {
  // Nothing more may be read here: bytes this process read after the socket left would be lost.
  // (net has no public way to stop reading a socket a server accepted; pause() only stops events.)
  (socket as unknown as { _handle?: { readStop?(): number } })._handle?.readStop?.();
  socket.pause();
  const parts = unread ? [unread] : [];
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) parts.push(chunk);
  send({ kind: 'handoff', unread: parts.length ? Buffer.concat(parts) : undefined }, socket);
}

process.on('message', (message: ToWorker, handle: unknown) => {
  if (message.kind === 'routes') routes.load(message.table);
  else if (message.kind === 'connection' && handle) {
    const socket = handle as Socket;
    // Half-open as the location's listener: a client that ends its side still gets its answers.
    socket.allowHalfOpen = true;
    fast.accept(socket);
  }
});
// The location went away (ended, or killed): so does this worker, with its connections.
process.on('disconnect', () => {
  fast.close();
  process.exit(0);
});
send({ kind: 'ready' });
