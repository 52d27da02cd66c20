/**
 * A relay in the middle of the SDK↔location link, as an attacker on the path would run it: it
 * terminates TLS with a certificate of its own and passes every frame on to the real location over
 * a second wss:// connection, so it can watch (and would like to use) the session.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { WebSocket, WebSocketServer } from 'ws';

export class TlsRelay {
  /** Frames the relay passed from the client to the location. */
  forwarded = 0;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly cert: string,
  ) {}

  static async start(target: string): Promise<TlsRelay> {
    const made = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const server = createServer({ cert: made.cert, key: made.private });
    const wss = new WebSocketServer({ server });
    const relay = new TlsRelay(server, wss, made.cert);
    wss.on('connection', (client) => {
      const upstream = new WebSocket(target, { rejectUnauthorized: false });
      const queued: Buffer[] = [];
      client.on('message', (data: Buffer) => {
        relay.forwarded++;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
        else queued.push(data);
      });
      upstream.on('open', () => queued.splice(0).forEach((d) => upstream.send(d)));
      upstream.on('message', (data: Buffer) => client.readyState === WebSocket.OPEN && client.send(data));
      const closeBoth = () => {
        client.terminate();
        upstream.terminate();
      };
      client.on('close', closeBoth);
      upstream.on('close', closeBoth);
      client.on('error', closeBoth);
      upstream.on('error', closeBoth);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    return `wss://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
