/**
 * A TCP proxy on loopback that a spec can cut (drop every connection, refuse new ones), stall (keep
 * connections open but let nothing through, like a pulled cable) and restore.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class FaultProxy {
  private readonly sockets = new Set<Socket>();
  /** Each connection's client side, in the order they were accepted. */
  private readonly accepted: Socket[] = [];
  private down = false;
  private stalled = false;
  /** Connections that were open during a stall stay silent for good, as after a real outage. */
  private readonly dead = new WeakSet<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server);
    server.on('connection', (client) => {
      if (proxy.down) return void client.destroy();
      proxy.accepted.push(client);
      const upstream = connect(targetPort, targetHost);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => undefined);
      }
      const forward = (from: Socket, to: Socket) =>
        from.on('data', (chunk) => {
          if (proxy.stalled) proxy.dead.add(from);
          if (!proxy.dead.has(from)) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The network fails: every connection drops and new ones are refused. */
  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Drop every connection accepted after the first `kept` (new ones still go through). */
  dropAfter(kept: number): number {
    const dropped = this.accepted.slice(kept).filter((s) => !s.destroyed);
    for (const s of dropped) s.destroy();
    return dropped.length;
  }

  /** The network goes silent: nothing is delivered, nothing is closed. */
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) this.dead.add(s);
  }

  restore(): void {
    this.down = false;
    this.stalled = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
