/**
 * Direct tunnels (embedded location, or one on this process's network stack: direct-reach.ts) relay their bytes on a thread of their own: one worker thread
 * per process, started with the first direct tunnel and kept only while tunnels are open. On the
 * user's thread a relay competed with the user's program (and with whatever it sends through the
 * tunnel) for one core; on its own thread it runs beside it. See direct-relay-thread.ts.
 */
import { Worker } from 'node:worker_threads';
import type { Observable, Subscription } from 'rxjs';
import { retryConnect } from '../protocol/tunnel-connect';
import { spliceSockets } from './tunnel-direct';
import { relayThreadMain } from './direct-relay-thread';
import type { FromRelay, RelayTarget, ToRelay } from './direct-relay-messages';

/**
 * The thread's program: its functions from their source text (the thread shares no modules with
 * this one, and the package's bundles put no file beside it to load). `__name`: the TypeScript
 * runner of the specs wraps nested functions in a helper by that name to keep their names.
 */
const THREAD_SOURCE = `'use strict';
var __name = (fn) => fn;
(${relayThreadMain.toString()})(${spliceSockets.toString()}, ${retryConnect.toString()});`;

/** What one listening direct tunnel asks of the relay. */
export interface DirectListen {
  tunnel: string;
  bind: string;
  localPort: number;
  /** The container's port. */
  port: number;
  timeoutMs: number;
  /** The container as it is now and at every change; followed until the tunnel closes. */
  target$: Observable<RelayTarget>;
  /** A connection that never reached the container, with the last reason. */
  onConnectFailed(lastError: string): void;
  /** A connection reached the container at `ip`: the first since the tunnel opened or the container last changed. */
  onConnected?(ip: string): void;
}

interface Listening {
  subscription?: Subscription;
  onConnectFailed(lastError: string): void;
  onConnected?(ip: string): void;
  opened?: { resolve(localPort: number): void; reject(err: NodeJS.ErrnoException): void };
  closed?: () => void;
}

/** The process's relay thread and the direct tunnels it serves. */
export class DirectRelay {
  private static instance?: DirectRelay;
  private worker?: Worker;
  private readonly tunnels = new Map<string, Listening>();

  static shared(): DirectRelay {
    return (DirectRelay.instance ??= new DirectRelay());
  }

  /** Listen on `bind`:`localPort` on the relay thread; resolves with the port (rejects with the listen error). */
  listen(req: DirectListen): Promise<number> {
    const entry: Listening = { onConnectFailed: req.onConnectFailed, onConnected: req.onConnected };
    this.tunnels.set(req.tunnel, entry);
    const opened = new Promise<number>((resolve, reject) => (entry.opened = { resolve, reject }));
    let first: RelayTarget | undefined;
    entry.subscription = req.target$.subscribe((target) => {
      if (!first) first = target;
      else this.send({ op: 'target', tunnel: req.tunnel, target });
    });
    if (!first) throw new Error('target$ must emit the container at once');
    const { target$: _target, onConnectFailed: _failed, onConnected: _connected, ...where } = req;
    this.send({ op: 'listen', ...where, target: first });
    return opened.catch((err) => (this.forget(req.tunnel), Promise.reject(err)));
  }

  /** Stop listening and cut the tunnel's connections; resolves once the port is free. */
  close(tunnel: string): Promise<void> {
    const entry = this.tunnels.get(tunnel);
    if (!entry || !this.worker) return Promise.resolve(this.forget(tunnel));
    entry.subscription?.unsubscribe();
    const done = new Promise<void>((resolve) => (entry.closed = resolve));
    this.send({ op: 'close', tunnel });
    return done;
  }

  private send(message: ToRelay): void {
    this.thread().postMessage(message);
  }

  private thread(): Worker {
    if (!this.worker) {
      // No loader flags of the parent (e.g. a TypeScript runner): the source is plain JavaScript.
      const worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], name: 'tfnz direct tunnels' });
      worker.on('message', (m: FromRelay) => this.receive(m));
      worker.on('error', (err) => this.lost(err));
      worker.on('exit', (code) => this.lost(new Error(`the direct tunnel relay thread exited (code ${code})`)));
      this.worker = worker;
    }
    this.worker.ref(); // a listening tunnel keeps the process alive, as a listening server does
    return this.worker;
  }

  private receive(m: FromRelay): void {
    const entry = this.tunnels.get(m.tunnel);
    if (!entry) return;
    if (m.op === 'listening') entry.opened?.resolve(m.localPort);
    else if (m.op === 'listen_failed') entry.opened?.reject(Object.assign(new Error(m.message), { code: m.code }));
    else if (m.op === 'connect_failed') entry.onConnectFailed(m.lastError);
    else if (m.op === 'connected') entry.onConnected?.(m.ip);
    else {
      this.forget(m.tunnel);
      entry.closed?.();
    }
  }

  private forget(tunnel: string): void {
    this.tunnels.get(tunnel)?.subscription?.unsubscribe();
    this.tunnels.delete(tunnel);
    if (this.tunnels.size === 0) this.worker?.unref();
  }

  /** The thread died (a bug): its tunnels are gone; the next tunnel starts a new thread. */
  private lost(err: Error): void {
    if (!this.worker) return;
    this.worker = undefined;
    for (const [tunnel, entry] of this.tunnels) {
      entry.opened?.reject(err);
      entry.closed?.();
      this.forget(tunnel);
    }
  }
}
