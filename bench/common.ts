/**
 * What the engine-backed benchmarks share: the Docker client for the floors, labels so the suite
 * can clean up after itself, and plain TCP clients (bulk sender, echo round trips).
 */
import Docker from 'dockerode';
import { connect, type Socket } from 'node:net';
import { filter, firstValueFrom, timeout } from 'rxjs';
import type { Container, Location, Tunnel, TunnelPath } from '../lib/index';
import { tryConnect } from '../lib/protocol/tunnel-connect';
import { now, withTimeout } from './stats';

export const DOCKER_SOCKET = '/var/run/docker.sock';
/**
 * The labels of every container the floors create: run.ts removes this process's ones at the end.
 * Only this process's: another bench run on the same engine keeps its containers.
 */
export function benchLabels(figure: string): Record<string, string> {
  return { 'tfnz.bench': figure, 'tfnz.pid': String(process.pid) };
}

export interface BenchContext {
  docker: Docker;
  /** Time this benchmark may take, in ms; its loops stop early past it. */
  budgetMs: number;
}

export function makeDocker(): Docker {
  return new Docker({ socketPath: DOCKER_SOCKET });
}

/** Sink on 9000 (reads to EOF, then closes) and echo on 9001; -ll forks one child per connection. */
export const SERVERS_COMMAND = [
  'sh', '-c',
  "nc -ll -p 9000 -e sh -c 'cat >/dev/null' & nc -ll -p 9001 -e cat & wait",
];
export const SINK_PORT = 9000;
export const ECHO_PORT = 9001;

/** A busybox container of `loc` running SERVERS_COMMAND, once `ports` accept at its private IP. */
export async function spawnServers(loc: Location, ports: readonly number[], what: string): Promise<Container> {
  const ctr = loc.node().spawnContainer('busybox', { command: SERVERS_COMMAND });
  await withTimeout(ctr.ready(), 60_000, `spawning ${what}`);
  if (!ctr.privateIp) throw new Error(`${what} has no private IP`);
  for (const port of ports) await waitForPort(ctr.privateIp, port);
  return ctr;
}

/**
 * Remove every container the floors made and any that an embedded location of this process left
 * behind (it labels them with our pid). Call only when no location of this process is running.
 */
export async function removeBenchContainers(docker: Docker): Promise<number> {
  let removed = 0;
  const found = await docker.listContainers({ all: true, filters: { label: [`tfnz.pid=${process.pid}`] } });
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  removed += found.length;
  return removed;
}

/** Open a TCP connection once something accepts on host:port (containers listen a moment after start). */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await connectSocket(host, port);
      s.destroy();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The tunnels' own dial (lib/protocol/tunnel-connect.ts), for the bench's connections too. */
export const connectSocket = tryConnect;

const CHUNK = Buffer.alloc(1 << 20, 0x61);

/**
 * Send `bytes` to host:port, half-close, and wait until the far end closes (the sink read
 * everything). Returns the elapsed ms, connect included. Bounded by `timeoutMs`.
 */
export async function sendBulk(host: string, port: number, bytes: number, timeoutMs: number): Promise<number> {
  const start = now();
  const socket = await connectSocket(host, port);
  await pumpBulk(socket, bytes, timeoutMs, `${host}:${port}`);
  return now() - start;
}

/** Write `bytes` on a connected socket, half-close, wait for the far end to close; then destroy. */
export async function pumpBulk(socket: Socket, bytes: number, timeoutMs: number, what: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    let failed: Error | undefined;
    socket.on('error', (err) => (failed = err));
    socket.on('data', () => undefined); // the sink sends nothing; keep the socket flowing anyway
    socket.on('close', () => (failed ? reject(failed) : resolve()));
  });
  let sent = 0;
  const pump = () => {
    while (sent < bytes) {
      const n = Math.min(CHUNK.length, bytes - sent);
      sent += n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
  try {
    await withTimeout(done, timeoutMs, `sending ${bytes} bytes to ${what}`);
  } finally {
    socket.destroy();
  }
  if (sent !== bytes) throw new Error(`sent ${sent} of ${bytes} bytes to ${what}`);
}

/**
 * `count` round trips of `size` bytes on one connection to an echo server; returns each round
 * trip in µs. `warmup` more round trips go first and are not recorded.
 */
export async function echoRoundTrips(host: string, port: number, count: number, size: number, warmup: number, timeoutMs: number): Promise<number[]> {
  const socket = await connectSocket(host, port);
  const payload = Buffer.alloc(size, 0x62);
  const rtts: number[] = [];
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        let pending = 0;
        let i = 0;
        let sentAt = 0;
        const total = warmup + count;
        const fire = () => {
          pending = size;
          sentAt = now();
          socket.write(payload);
        };
        socket.on('data', (chunk: Buffer) => {
          pending -= chunk.length;
          if (pending > 0) return;
          if (pending < 0) return reject(new Error('echo returned more bytes than were sent'));
          const rtt = (now() - sentAt) * 1000;
          if (i >= warmup) rtts.push(rtt);
          if (++i >= total) return resolve();
          fire();
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error(`echo connection closed after ${i} round trips`)));
        fire();
      }),
      timeoutMs,
      `${count} echo round trips to ${host}:${port}`,
    );
  } finally {
    socket.removeAllListeners('close');
    socket.destroy();
  }
  return rtts;
}

export const mb = (bytes: number) => bytes / 1e6;

/**
 * After a tunnel's first connection (the warm-up), the path its next connections take: an embedded
 * tunnel is handed to the kernel once a connection reached its container (kernel-tunnel.ts), which
 * takes a few iptables runs; wait for that, bounded (a tunnel the kernel does not take stays on
 * the relay, and says why in the log).
 */
export async function settledPath(tunnel: Tunnel, withinMs = 5_000): Promise<TunnelPath> {
  if (tunnel.path !== 'direct') return tunnel.path;
  return firstValueFrom(tunnel.path$.pipe(filter((p) => p === 'kernel'), timeout({ first: withinMs }))).catch(() => tunnel.path);
}
