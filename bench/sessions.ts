/**
 * Figure 6 — control plane. One LocationServer (port 0, stats every second) and K idle sessions
 * (BENCH_SESSIONS, default 200) opened with Location.connect({ location: server.url }); the fan-out
 * figure opens F of them once (BENCH_FANOUT_SESSIONS, default 1000).
 * Server and clients live in this one process, so every memory figure counts both ends of a session
 * (server Session + WebSocket, client Location + Connection + WebSocket).
 *   - open time per session, and memory per idle session (JS heap + external after GC, and RSS),
 *     against the floor of K bare `ws` connections to a bare WebSocketServer in this process;
 *   - fan-out: from the server's internal broadcast of one real node_stats change (a sampling tick)
 *     until every one of F sessions' `node.stats$` has emitted it, against the floor of one frame
 *     of the same size sent to F bare ws clients (goal: within 2x), measured right after each tick
 *     while both sets of connections are open. The hook wraps LocationServer's private `broadcast`
 *     method at run time (no public hook exists); nothing in lib/ is changed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { Location } from '../lib/index';
import { LocationServer } from '../lib/server/index';
import { encodeFrame } from '../lib/protocol';
import type { BenchContext } from './common';
import { figure, naFigure, now, progress, sleep, summarise, withTimeout, type Figure } from './stats';

const K = Math.max(1, Math.min(1000, Number(process.env.BENCH_SESSIONS ?? 200)));
const F = Math.max(1, Math.min(2000, Number(process.env.BENCH_FANOUT_SESSIONS ?? 1000)));
const ROUNDS = 3;
const BATCH = 20;
const TICKS = 9;
/** Bare fan-outs right after each tick's: both measured under the same load, not minutes apart. */
const FLOOR_FANOUTS_PER_TICK = 2;
/** The fan-out's F sessions open this many at a time: a loaded machine must not time their handshakes out. */
const FANOUT_BATCH = 5;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function memory(): { js: number; rss: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { js: m.heapUsed + m.external, rss: m.rss };
}

/** Open `count` things `batch` at a time; returns them and each one's open time in ms. */
async function openAll<T>(count: number, open: () => Promise<T>, batch = BATCH): Promise<{ items: T[]; times: number[] }> {
  const items: T[] = [];
  const times: number[] = [];
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async () => {
        const t0 = now();
        const item = await open();
        times.push(now() - t0);
        return item;
      }),
    );
    items.push(...opened);
  }
  return { items, times };
}

function bareServer(): Promise<WebSocketServer> {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    wss.once('listening', () => resolve(wss));
    wss.once('error', reject);
  });
}

function bareClient(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  const started = now();
  // K sessions of one user from one address: past the defaults (16 sessions a user, 64 sockets an
  // address), which guard a shared location against one client, not what this measures.
  const server = await LocationServer.start({
    port: 0, name: 'bench', statsIntervalMs: 1000,
    limits: { sessionsPerUser: Math.max(K, F) + 8, connectionsPerAddress: Math.max(K, F) + 8, unauthenticatedSockets: Math.max(K, F) + 8 },
  });
  const wss = await bareServer();
  const bareUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const mem = { tfnzJs: [] as number[], tfnzRss: [] as number[], floorJs: [] as number[], floorRss: [] as number[] };
  const openMs = { tfnz: [] as number[], floor: [] as number[] };
  const fanout = { tfnz: [] as number[], floor: [] as number[] };
  let fanoutNa: string | undefined;
  /** Let closed connections finish closing on both ends, so the next "before" is clean. */
  const settle = async () => {
    const deadline = now() + 5000;
    while ((server.sessionCount > 0 || wss.clients.size > 0) && now() < deadline) await sleep(20);
    await sleep(200);
  };
  try {
    // Warm-up (JIT, lazily loaded code, pools that grow once): K of each, opened and closed.
    // RSS is taken here, cold: once freed pages are reused, later rounds barely move it.
    let before = memory();
    const warm = await openAll(K, () => bareClient(bareUrl));
    await sleep(100);
    mem.floorRss.push((memory().rss - before.rss) / K / 1024);
    await Promise.all(warm.items.map((ws) => new Promise<void>((r) => (ws.once('close', () => r()), ws.close()))));
    await settle();
    before = memory();
    const warmLocs = await openAll(K, () => Location.connect({ location: server.url, quiet: true }));
    await sleep(100);
    mem.tfnzRss.push((memory().rss - before.rss) / K / 1024);
    await Promise.all(warmLocs.items.map((l) => l.disconnect()));
    await settle();
    for (let round = 0; round < ROUNDS && (round === 0 || now() - started < budgetMs / 2); round++) {
      // Floor: K bare WebSocket connections, both ends in this process.
      {
        const before = memory();
        const { items, times } = await openAll(K, () => bareClient(bareUrl));
        await sleep(100);
        const after = memory();
        mem.floorJs.push((after.js - before.js) / K / 1024);
        openMs.floor.push(...times);
        await Promise.all(items.map((ws) => new Promise<void>((r) => (ws.once('close', () => r()), ws.close()))));
        await settle();
      }
      // tfnz: K idle sessions.
      {
        const before = memory();
        const { items: locs, times } = await openAll(K, () => Location.connect({ location: server.url, quiet: true }));
        await sleep(100);
        const after = memory();
        mem.tfnzJs.push((after.js - before.js) / K / 1024);
        openMs.tfnz.push(...times);
        if (server.sessionCount !== K) throw new Error(`server has ${server.sessionCount} sessions, expected ${K}`);
        await Promise.all(locs.map((l) => l.disconnect()));
        await settle();
      }
      progress(`sessions: round ${round + 1}: ${K} sessions, ${mem.tfnzJs.at(-1)!.toFixed(1)} KiB JS each (bare ws ${mem.floorJs.at(-1)!.toFixed(1)})`);
    }
    // Fan-out: F of each, all open at once; each tick's fan-out is followed by the floor's.
    {
      const { items } = await openAll(F, () => bareClient(bareUrl), FANOUT_BATCH);
      const { items: locs } = await openAll(F, () => Location.connect({ location: server.url, quiet: true }), FANOUT_BATCH);
      if (server.sessionCount !== F) throw new Error(`server has ${server.sessionCount} sessions, expected ${F}`);
      try {
        fanout.tfnz.push(...(await tickFanout(server, locs, async () => void fanout.floor.push(...(await bareFanout(wss, items))))));
      } catch (err) {
        fanoutNa = (err as Error).message;
      }
      await Promise.all(locs.map((l) => l.disconnect()));
      await Promise.all(items.map((ws) => new Promise<void>((r) => (ws.once('close', () => r()), ws.close()))));
      progress(`sessions: fan-out to ${F} sessions measured`);
    }
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await server.close();
  }

  const sameProcess = 'server and clients share this process: each figure counts both ends';
  const figures = [
    figure({
      bench: 'sessions', name: `open one session (${K} opened ${BATCH} at a time)`, unit: 'ms', better: 'lower',
      tfnz: summarise(openMs.tfnz), floorName: 'bare ws connect', floor: summarise(openMs.floor),
    }),
    figure({
      bench: 'sessions', name: `memory per idle session, JS heap+external (K=${K})`, unit: 'KiB', better: 'lower',
      tfnz: summarise(mem.tfnzJs), floorName: 'bare ws connection', floor: summarise(mem.floorJs),
      note: `${sameProcess}; after forced GC; median over ${mem.tfnzJs.length} rounds`,
    }),
    figure({
      bench: 'sessions', name: `RSS growth per session, first ${K} (cold)`, unit: 'KiB', better: 'lower',
      tfnz: summarise(mem.tfnzRss), floorName: 'bare ws connection', floor: summarise(mem.floorRss),
      note: 'one sample: RSS of the first K opened in this process, one-time growth (pools, code) included; later rounds reuse freed pages',
    }),
  ];
  if (fanoutNa || fanout.tfnz.length === 0) {
    figures.push(naFigure('sessions', `one node_stats change to all ${F} sessions`, 'ms', fanoutNa ?? 'no sampling tick changed the stats'));
  } else {
    figures.push(figure({
      bench: 'sessions', name: `fan-out: one node_stats change to all ${F} sessions`, unit: 'ms', better: 'lower',
      tfnz: summarise(fanout.tfnz), floorName: `same-size frame to ${F} bare ws`, floor: summarise(fanout.floor), goal: ['≤', 2],
      note: `from LocationServer's (private) broadcast to the last session's node.stats$; ${fanout.tfnz.length} sampling ticks`,
    }));
  }
  return figures;
}

/**
 * Wait for up to TICKS sampling ticks whose stats changed; for each, the time from the server's
 * broadcast to the moment the last of the sessions' `node.stats$` emitted it. `afterEach` runs
 * after each (the floor's measurement), well before the next tick.
 */
async function tickFanout(server: LocationServer, locs: Location[], afterEach: () => Promise<void>): Promise<number[]> {
  const hooked = server as unknown as { broadcast(change: { kind: string }): void };
  if (typeof hooked.broadcast !== 'function') throw new Error('LocationServer has no broadcast method to time any more');
  const original = hooked.broadcast;
  let tick: { at: number; seen: number; resolve(ms: number): void } | undefined;
  const results: number[] = [];
  const subs = locs.map((loc) => {
    let skipFirst = true; // stats$ replays the current value on subscribe
    return loc.node().stats$.subscribe(() => {
      if (skipFirst) return void (skipFirst = false);
      if (tick && ++tick.seen === locs.length) tick.resolve(now() - tick.at);
    });
  });
  try {
    for (let i = 0; i < TICKS; i++) {
      const ms = await withTimeout(
        new Promise<number>((resolve) => {
          hooked.broadcast = function (this: unknown, change: { kind: string }) {
            if (change.kind === 'stats' && !tick) tick = { at: now(), seen: 0, resolve };
            return original.call(this, change);
          };
        }),
        // At 1000 sessions on a busy machine a sampling tick can take a while to come round.
        30_000,
        'waiting for a sampling tick that changes node stats',
      );
      results.push(ms);
      tick = undefined;
      hooked.broadcast = original;
      await afterEach();
    }
  } finally {
    hooked.broadcast = original;
    delete (hooked as { broadcast?: unknown }).broadcast; // back to the prototype's method
    for (const s of subs) s.unsubscribe();
  }
  return results;
}

/** Floor for the fan-out: one node_stats-sized frame from a bare ws server to all its clients. */
async function bareFanout(wss: WebSocketServer, clients: WebSocket[]): Promise<number[]> {
  const frame = encodeFrame({ kind: 'event', seq: 12345, event: 'node_stats', params: { node: 'node-0123456789', stats: { cpu: 187, memory: 23000, paging: 0, containers: 3 } } });
  const results: number[] = [];
  for (let i = 0; i < FLOOR_FANOUTS_PER_TICK; i++) {
    let seen = 0;
    const done = new Promise<number>((resolve) => {
      const t0 = now();
      for (const c of clients) c.once('message', () => ++seen === clients.length && resolve(now() - t0));
      for (const s of wss.clients) s.send(frame);
    });
    results.push(await withTimeout(done, 10_000, 'bare ws fan-out'));
    await sleep(20);
  }
  return results;
}
