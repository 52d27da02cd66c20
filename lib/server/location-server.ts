/**
 * The location: a WebSocket server in front of one or more container engines (nodes). It owns the
 * engines; clients only ever talk to it. Runs as `tfnz location` or embedded in an SDK process.
 */
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../engines/engine';
import { DockerEngine } from '../engines/docker-engine';
import { NodePool, type NodeChange } from './node-pool';
import { Session } from './session';
import { reapOrphans } from './reaper';
import type { LocationContext } from './location-context';
import type { ManagedContainer } from './managed-container';

export interface LocationServerOptions {
  /** The location's name, carried in labels; default 'local'. */
  name?: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 2020, 0 picks a free one. */
  port?: number;
  /** Engines to use as nodes; default the local Docker Engine. */
  engines?: Engine[];
  /** How often node stats are sampled; default 5 s. */
  statsIntervalMs?: number;
  /** Extra labels on everything created (the embedded location records its process). */
  labels?: Record<string, string>;
  /** Which of this location's leftover containers to remove at start; default all of them. */
  shouldReap?: (labels: Record<string, string>) => boolean;
  log?: (line: string) => void;
}

/** Largest frame a client may send; bulk data travels in much smaller chunks. */
const MAX_FRAME_BYTES = 32 * 1024 * 1024;

export class LocationServer {
  private readonly sessions = new Set<Session>();
  private readonly ctx: LocationContext;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly nodes: NodePool,
    readonly name: string,
    labels: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {
    const sessions = this.sessions;
    this.ctx = {
      name, nodes, labels,
      containers: new Map<string, ManagedContainer>(),
      forget: (s) => sessions.delete(s),
    };
    wss.on('connection', (ws, req) => {
      const session = new Session(this.ctx, ws, req.socket);
      this.sessions.add(session);
      this.log(`session ${session.id} connected from ${req.socket.remoteAddress}`);
      ws.on('error', () => undefined); // a broken socket ends the session via 'close'
      ws.on('close', () => {
        this.log(`session ${session.id} closed; collecting its containers and tunnels`);
        void session.end();
      });
    });
  }

  static async start(opts: LocationServerOptions = {}): Promise<LocationServer> {
    const name = opts.name ?? 'local';
    const log = opts.log ?? (() => undefined);
    let server: LocationServer | undefined;
    const nodes = new NodePool((change) => server?.broadcast(change), opts.statsIntervalMs);
    const engines = opts.engines ?? [new DockerEngine()];
    for (const engine of engines) await nodes.add(engine);
    const reaped = await reapOrphans(engines, name, opts.shouldReap);
    if (reaped) log(`removed ${reaped} container(s) left by sessions that no longer exist`);
    const wss = await listen(opts.host ?? '127.0.0.1', opts.port ?? 2020);
    server = new LocationServer(wss, nodes, name, opts.labels ?? {}, log);
    nodes.startSampling();
    log(`location '${name}' listening on ${server.url} with ${engines.length} node(s)`);
    return server;
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  get url(): string {
    const { address, port, family } = this.wss.address() as AddressInfo;
    return `ws://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** End every session (collecting what they made) and stop listening. */
  async close(): Promise<void> {
    this.nodes.stop();
    await Promise.all([...this.sessions].map((s) => s.end()));
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private broadcast(change: NodeChange): void {
    for (const s of this.sessions) {
      if (!s.opened || s.ended) continue;
      if (change.kind === 'created') s.emit('node_created', { node: change.node });
      else if (change.kind === 'destroyed') s.emit('node_destroyed', { node: change.node });
      else s.emit('node_stats', { node: change.node, stats: change.stats });
    }
  }
}

function listen(host: string, port: number): Promise<WebSocketServer> {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host, port, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    wss.once('listening', () => resolve(wss));
    wss.once('error', reject);
  });
}
