/**
 * The front door's worker processes (front-door-worker.ts), as nginx's workers: the location
 * accepts each plain-HTTP connection without reading it and passes it to the next ready worker,
 * which proxies it on its own core; the location's event loop is left to sessions, the output
 * relay, and whatever a worker hands back (with the bytes it read), which node:http's path answers.
 * Workers get the routes whenever they change (front-door-routes.ts): a site published or
 * unpublished, a member added or removed, a member's status or address (WebSites.onChange). A
 * worker that exits is replaced; with none ready, the location serves the connection itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteTable } from './front-door-routes';

/** Messages the location sends a worker. */
export type ToWorker = { kind: 'routes'; table: RouteTable } | { kind: 'connection' };
/** Messages a worker sends the location. */
export type FromWorker = { kind: 'ready' } | { kind: 'handoff'; unread: Uint8Array | undefined };

/** How long after a worker exits its replacement starts (a worker that crashes at once does not spin). */
const RESTART_MS = 1_000;

export interface FrontDoorWorkersOptions {
  count: number;
  /** The routes as they are now. */
  routes(): RouteTable;
  /** Serves a connection nothing has read yet in this process (no worker could take it). */
  serveHere(socket: Socket): void;
  /** A connection a worker gave back, with the bytes it had read of it. */
  takeBack(socket: Socket, unread: Buffer | undefined): void;
  log(line: string): void;
}

/** The worker's file beside this module's: a .ts one in the sources (run with tsx), .js or .cjs in dist (where this module may sit in chunks/). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const name = `front-door-worker${extname(here)}`;
  const candidates = [join(dirname(here), name), join(dirname(here), '..', name)];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`the front door's worker file is missing (looked for ${candidates.join(', ')}); reinstall tfnz`);
  return found;
}

export class FrontDoorWorkers {
  private readonly workers: (ChildProcess | undefined)[];
  private readonly ready = new Set<ChildProcess>();
  /** Connections on their way to each worker: closed here once sent; served here if the worker died first. */
  private readonly sending = new Map<ChildProcess, Set<Socket>>();
  private cursor = 0;
  private closed = false;
  /** The routes last sent, as JSON: sent again only when they differ. */
  private sent = '';
  private readonly file = workerFile();

  constructor(private readonly opts: FrontDoorWorkersOptions) {
    this.workers = Array.from({ length: opts.count }, () => undefined);
    for (let i = 0; i < opts.count; i++) this.start(i);
  }

  /** Process ids of the running workers (for CPU accounting and tests). */
  get pids(): number[] {
    return this.workers.flatMap((w) => (w?.pid === undefined ? [] : [w.pid]));
  }

  private start(i: number): void {
    // serialization 'advanced': a Buffer crosses as one, not as JSON numbers.
    const child = fork(this.file, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.workers[i] = child;
    child.on('message', (message: FromWorker, handle: unknown) => {
      if (message.kind === 'ready') {
        child.send({ kind: 'routes', table: this.opts.routes() } satisfies ToWorker);
        this.ready.add(child);
      } else if (message.kind === 'handoff' && handle) {
        const socket = handle as Socket;
        socket.allowHalfOpen = true;
        this.opts.takeBack(socket, message.unread ? Buffer.from(message.unread) : undefined);
      }
    });
    child.on('error', () => undefined); // a send to a worker that is exiting: its 'exit' follows
    this.sending.set(child, new Set());
    child.once('exit', (code, signal) => {
      this.ready.delete(child);
      // Not sent (queued behind another): served here instead.
      for (const socket of this.sending.get(child) ?? []) this.opts.serveHere(socket);
      this.sending.delete(child);
      if (this.workers[i] === child) this.workers[i] = undefined;
      if (this.closed) return;
      this.opts.log(`front-door worker ${child.pid} exited (${signal ?? `code ${code}`}); starting another`);
      setTimeout(() => {
        if (!this.closed) this.start(i);
      }, RESTART_MS).unref();
    });
  }

  /** Passes a connection nothing has read yet to the next ready worker, or serves it here when none is. */
  dispatch(socket: Socket): void {
    const n = this.workers.length;
    for (let k = 0; k < n; k++) {
      const child = this.workers[(this.cursor + k) % n];
      if (!child || !this.ready.has(child) || !child.connected) continue;
      this.cursor = (this.cursor + k + 1) % n;
      // keepOpen: this process closes its copy itself once the worker has one (the connection
      // stays open: the worker's copy is another descriptor of it), and keeps it to serve itself
      // when the worker died before it could be sent (without, it stayed open here, unanswered).
      const sending = this.sending.get(child)!;
      sending.add(socket);
      child.send({ kind: 'connection' } satisfies ToWorker, socket, { keepOpen: true }, (err: Error | null) => {
        if (!sending.delete(socket)) return; // the worker's exit served it here already
        if (err) this.opts.serveHere(socket);
        else socket.destroy();
      });
      return;
    }
    this.opts.serveHere(socket);
  }

  /** Sends the routes to every ready worker if they differ from what they have. */
  routesChanged(): void {
    if (this.closed) return;
    const table = this.opts.routes();
    const json = JSON.stringify(table);
    if (json === this.sent) return;
    this.sent = json;
    for (const child of this.ready) if (child.connected) child.send({ kind: 'routes', table } satisfies ToWorker);
  }

  /** Ends every worker (their connections with them) and waits for them to exit. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((child) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL'); // nothing of a worker's needs saving: its connections end with it
      return exited;
    }));
  }
}
