/**
 * The dashboard's web server: an SDK session's folded state pushed to a browser over Server-Sent
 * Events (no polling), and one container's output followed live on request. Only whoever holds the
 * printed URL gets in: it binds loopback only, every request must carry the random token, and the
 * Host header must name this loopback address and port, so a web page elsewhere cannot reach it
 * through DNS rebinding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { auditTime, type Observable, type Subscription } from 'rxjs';
import { BadRequest } from '../../protocol';
import { isLoopback } from '../../protocol/loopback';
import type { Location } from '../../client/location';
import type { LogEntry } from '../../client/container-logs';
import { DashboardModel, type DashboardView } from './dashboard-view';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT } from './dashboard-page';

/** Where the dashboard listens. */
export interface DashboardOptions {
  /** A loopback host (default 127.0.0.1): nothing else may reach the page. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

/** Browser connections (state streams and log follows) served at once; more get 503. */
export const MAX_STREAMS = 32;
/** Lines of history a log view starts with. */
export const LOG_TAIL = 200;
/** A browser this far behind on a log stream is cut off (state updates are skipped instead). */
const MAX_BUFFERED_BYTES = 1 << 20;
/** How often state updates may reach the browser: at most one per this many ms, the latest. */
const UPDATE_MS = 200;

/** A dashboard serving one session's view of its location. */
export class DashboardServer {
  private readonly model = new DashboardModel();
  private view: DashboardView;
  private readonly viewers = new Set<ServerResponse>();
  private readonly streams = new Set<ServerResponse>();
  private readonly state: Subscription;

  private constructor(
    private readonly loc: Location,
    private readonly server: Server,
    private readonly token: string,
  ) {
    this.view = this.model.fold(loc.state, Date.now());
    // Folded whether or not a page is open, so a page opened later still gets the charts' history.
    this.state = loc.state$.pipe(auditTime(UPDATE_MS)).subscribe((s) => {
      this.view = this.model.fold(s, Date.now());
      for (const res of this.viewers) if (res.writableLength < MAX_BUFFERED_BYTES) send(res, 'view', this.view);
    });
    server.on('request', (req, res) => this.handle(req, res));
  }

  /** Serve the dashboard of `loc`'s session; resolves once it listens. */
  static async start(loc: Location, opts: DashboardOptions = {}): Promise<DashboardServer> {
    const host = assertLoopback(opts.host ?? '127.0.0.1');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host.replace(/^\[|\]$/g, ''), () => resolve());
    });
    return new DashboardServer(loc, server, randomBytes(24).toString('base64url'));
  }

  /** The address to open: it carries the token, so treat it as a password. */
  get url(): string {
    const { address, family, port } = this.server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}/?token=${this.token}`;
  }

  /** Stop serving: open pages see their streams end. */
  async close(): Promise<void> {
    this.state.unsubscribe();
    for (const res of this.streams) res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const refused = this.refusal(req, url);
    if (refused) return plain(res, refused.status, refused.text);
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'the dashboard only answers GET');
    switch (url.pathname) {
      case '/':
        return reply(res, 'text/html; charset=utf-8', DASHBOARD_HTML.replace('%TOKEN%', this.token));
      case '/dashboard.js':
        return reply(res, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT);
      case '/events':
        return this.stream(res, () => {
          this.viewers.add(res);
          send(res, 'view', this.view);
          return () => this.viewers.delete(res);
        });
      case '/logs':
        return this.stream(res, () => this.followLogs(res, url.searchParams.get('container') ?? ''));
      default:
        return plain(res, 404, `nothing at ${url.pathname}: open the URL tfnz dashboard printed`);
    }
  }

  /** Why `req` may not be served, if it may not: wrong Host (DNS rebinding) or no valid token. */
  private refusal(req: IncomingMessage, url: URL): { status: number; text: string } | undefined {
    const { port } = this.server.address() as AddressInfo;
    let host: URL | undefined;
    try {
      host = new URL(`http://${req.headers.host ?? ''}`);
    } catch {
      host = undefined;
    }
    if (!host || !isLoopback(host.hostname) || Number(host.port || 80) !== port) {
      return { status: 403, text: `this dashboard answers only to a loopback address with port ${port} (the Host header said '${req.headers.host ?? ''}')` };
    }
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const token = Buffer.from(this.token);
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      return { status: 403, text: 'this dashboard needs its token: open the whole URL that tfnz dashboard printed (with ?token=...)' };
    }
    return undefined;
  }

  /** An SSE response that lasts until the browser goes; `open` starts it and returns its teardown. */
  private stream(res: ServerResponse, open: () => () => void): void {
    if (this.streams.size >= MAX_STREAMS) return plain(res, 503, `the dashboard serves ${MAX_STREAMS} streams at most; close other tabs of it`);
    res.writeHead(200, { ...SAFE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8' });
    // A browser that went away mid-write is no error of the dashboard's: 'close' tears the stream down.
    res.on('error', () => undefined);
    this.streams.add(res);
    const teardown = open();
    res.once('close', () => {
      this.streams.delete(res);
      teardown();
    });
  }

  /** The container's last LOG_TAIL lines, then each new one; `ended` when its output ends. */
  private followLogs(res: ServerResponse, key: string): () => void {
    let lines: Observable<LogEntry>;
    try {
      const own = this.loc.allContainers().find((c) => c.id === key);
      lines = own ? own.logs$({ tail: LOG_TAIL }) : this.loc.externalContainer(key).logs$({ tail: LOG_TAIL });
    } catch (err) {
      send(res, 'failed', { message: (err as Error).message });
      res.end();
      return () => undefined;
    }
    const sub = lines.subscribe({
      next: (l) => {
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          send(res, 'failed', { message: 'this page fell too far behind the output; reopen the container to follow it again' });
          res.end();
          sub.unsubscribe();
          return;
        }
        send(res, 'line', { time: l.time.getTime(), stream: l.stream, text: l.text });
      },
      error: (err: Error) => {
        send(res, 'failed', { message: err.message });
        res.end();
      },
      complete: () => {
        send(res, 'ended', {});
        res.end();
      },
    });
    return () => sub.unsubscribe();
  }
}

/** `host` if it is loopback; BadRequest otherwise (the page must not be reachable from elsewhere). */
export function assertLoopback(host: string): string {
  if (!isLoopback(host)) throw new BadRequest(`the dashboard listens on loopback only (got ${host}); use 127.0.0.1 and reach it from elsewhere through an SSH tunnel`);
  return host;
}

/** No caching, no framing by other sites, no referrer (the URL holds the token), only our own script. */
const SAFE_HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
};

/** One SSE event; nothing once the response ended (a write after the end would be an 'error' event). */
function send(res: ServerResponse, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function reply(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { ...SAFE_HEADERS, 'Content-Type': type });
  res.end(body);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...SAFE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}
