/** Loopback TCP and HTTP helpers for tunnel and front-door specs, and the container servers they talk to. */
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import http from 'node:http';

/**
 * Send `data`, half-close, and collect everything the far end sends until it closes. `onReceived`
 * hears the running total after every chunk back: a spec cuts the network from there, mid-transfer.
 */
export function exchange(port: number, data: Buffer, { host = '127.0.0.1', onReceived }: { host?: string; onReceived?: (total: number) => void } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true });
    const received: Buffer[] = [];
    let total = 0;
    socket.on('data', (chunk) => {
      received.push(chunk);
      total += chunk.length;
      onReceived?.(total);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(received)));
    socket.on('connect', () => socket.end(data));
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A plain HTTP GET over the loopback, body as text. */
export async function httpGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** A GET through a front door on the loopback, asking for host name `host` (10 s to answer). */
export function getAs(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** A container command: a busybox echo server on `port`, every connection its own `cat`. */
export const echoServer = (port = 9000) => ['nc', '-ll', '-p', String(port), '-e', 'cat'];

/** A container command: serve `bytes` zeroes on `port` to each connection, then close it. */
export const zeroesServer = (port: number, bytes: number) => ['nc', '-ll', '-p', String(port), '-e', 'head', '-c', String(bytes), '/dev/zero'];

/**
 * Read from `port` far slower than a container writes, pausing `pauseMs` after each chunk so the
 * buffers on the way fill; resolves with the bytes received once the far end closed.
 */
export function readSlowly(port: number, pauseMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let bytes = 0;
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(bytes));
  });
}

/** Connect to `port` and resolve once the connection is closed (by either end, or refused). */
export function closedConnection(port: number): Promise<void> {
  return new Promise<void>((resolve) => connect(port, '127.0.0.1').on('close', () => resolve()).on('error', () => undefined));
}
