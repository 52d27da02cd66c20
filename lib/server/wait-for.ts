/**
 * Waiting for a service inside a container, from the location (which reaches every container at
 * its private address, as the tunnel relay does). Polls until it answers or the deadline passes.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { Engine } from '../engines/engine';
import { dialContainer } from './container-dial';
import { ConnectFailed, ContainerNotRunning } from '../protocol';
import type { ManagedContainer } from './managed-container';

const RETRY_MS = 250;
/** One attempt may take at most this long, so a hung service cannot eat the whole timeout. */
const ATTEMPT_MS = 5000;

/** Resolves once something accepts a TCP connection on `port`. */
export function waitTcp(container: ManagedContainer, port: number, timeoutMs: number): Promise<void> {
  return poll(container, timeoutMs, `accept a connection on port ${port}`, (ip) => tcpOnce(container.node.engine, ip, port));
}

/** Resolves once `GET path` with `Host: fqdn` on `port` answers 200. */
export function waitHttp200(container: ManagedContainer, port: number, fqdn: string, path: string, timeoutMs: number): Promise<void> {
  return poll(container, timeoutMs, `answer 200 to GET http://${fqdn}${path} on port ${port}`, async (ip) => {
    const { status } = await httpOnce(container.node.engine, ip, port, fqdn, path, false);
    if (status !== 200) throw new Error(`it answered ${status}`);
  });
}

/** Bodies read for a `body` check stop at this size (the text sought must be within it). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Resolves once `GET path` with `Host: fqdn` on `port` answers `status`, with a body that contains
 * `body` when given (#16, Wait.forHttp).
 */
export function waitHttp(container: ManagedContainer, port: number, fqdn: string, path: string, status: number, body: string | undefined, timeoutMs: number): Promise<void> {
  const what = `answer ${status}${body === undefined ? '' : ` with '${body}' in the body`} to GET http://${fqdn}${path} on port ${port}`;
  return poll(container, timeoutMs, what, async (ip) => {
    const answer = await httpOnce(container.node.engine, ip, port, fqdn, path, body !== undefined);
    if (answer.status !== status) throw new Error(`it answered ${answer.status}`);
    if (body !== undefined && !answer.body.includes(body)) throw new Error(`it answered ${answer.status} without '${body}' in the body`);
  });
}

async function poll(container: ManagedContainer, timeoutMs: number, what: string, attempt: (ip: string) => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  for (;;) {
    const ip = container.status === 'running' ? container.privateIp : undefined;
    if (ip) {
      try {
        return await attempt(ip);
      } catch (err) {
        last = (err as Error).message;
      }
    } else if (container.status !== 'spawning') {
      throw new ContainerNotRunning(`container ${container.id} is ${container.status}; nothing in it can ${what}`);
    }
    if (Date.now() + RETRY_MS > deadline) {
      throw new ConnectFailed(`container ${container.id} did not ${what} within ${timeoutMs / 1000}s (last attempt: ${last})`);
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

async function tcpOnce(engine: Engine, host: string, port: number): Promise<void> {
  (await dialContainer(engine, host, port, ATTEMPT_MS)).destroy();
}

function httpOnce(engine: Engine, host: string, port: number, fqdn: string, path: string, readBody: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const createConnection = (_: unknown, connected: (err: Error | null, socket: Socket) => void) => {
      dialContainer(engine, host, port, ATTEMPT_MS).then((socket) => connected(null, socket), (err: Error) => connected(err, undefined as unknown as Socket));
      return undefined;
    };
    const req = request({ host, port, path, method: 'GET', headers: { Host: fqdn }, timeout: ATTEMPT_MS, createConnection }, (res) => {
      const status = res.statusCode ?? 0;
      if (!readBody) {
        res.resume(); // drain the body; only the status matters
        return resolve({ status, body: '' });
      }
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        if (size < MAX_BODY_BYTES) parts.push(b);
        size += b.length;
      });
      res.once('end', () => resolve({ status, body: Buffer.concat(parts).toString('utf8') }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('request timed out')));
    req.once('error', reject);
    req.end();
  });
}
