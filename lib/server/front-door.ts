/**
 * The location's HTTP and HTTPS front door: requests are routed by their Host header (HTTPS: by
 * SNI) to a published site, and proxied to port 80 of one of its running containers, round-robin.
 *
 * Hand-written on node:http rather than a proxy library because of one rule the library ones do
 * not have: a request is re-sent to the next member when its connection fails before any of the
 * request's body has left (or at any point before a response, for requests without a body). That
 * is what keeps requests from failing while members join, leave, stop or restart.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { BlockList, connect, createServer, isIP, isIPv4, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { FastPath } from './front-door-fast';
import { hostName, routeTable } from './front-door-routes';
import { FrontDoorWorkers } from './front-door-workers';
import { MAX_ATTEMPTS, RETRY_PAUSE_MS, UPSTREAM_PORT, nextUpstream, type Site, type Upstream, type WebSites } from './web-sites';

export interface FrontDoorOptions {
  host: string;
  httpPort: number;
  httpsPort: number;
  sites: WebSites;
  /** A container's address when it runs, else undefined. */
  resolve(container: string): Upstream | undefined;
  log(line: string): void;
  /**
   * Worker processes that serve the plain HTTP port's usual requests (front-door-workers.ts);
   * default 0: the location's own process serves them.
   */
  workers?: number;
}

/** Headers about one hop, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Headers the door writes itself: the client's own values are replaced, not passed on. */
const SET_BY_DOOR = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
const NONE_FAILED: ReadonlySet<string> = new Set();
const KEEP_ALIVE: ReadonlySet<string> = new Set(['keep-alive']);
const CLOSE: ReadonlySet<string> = new Set(['close']);
/** How many distinct Host headers the door remembers normalised (the same few arrive on every request). */
const HOST_MEMO = 1024;

/** One client request on its way to a member, across the attempts it may take. */
interface Exchange {
  readonly site: Site;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly secure: boolean;
  /** Built once for every attempt: name, value, name, value (node writes an array as given, after checking it). */
  readonly headers: string[];
  /** Members this request's connection failed on, once one has. */
  failed: Set<string> | undefined;
  /** The attempt under way. */
  upstream: http.ClientRequest | undefined;
}

/** A Host header normalised, and whether it names an address rather than a host. */
interface HostInfo {
  name: string | undefined;
  address: boolean;
}

export class FrontDoor {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 30_000 });
  private readonly hosts = new Map<string, HostInfo>();
  /** Listeners on further addresses (alsoListen), by address. */
  private readonly extra = new Map<string, Promise<Server[]>>();

  /** Plain HTTP/1.1 requests of the usual kind, without node:http (front-door-fast.ts); `plain` takes the rest. */
  private readonly fast: FastPath;
  /** The plain HTTP port's listener: every connection starts on the fast path (a worker's, when there are workers). */
  private readonly plainListener: Server;
  private readonly workers: FrontDoorWorkers | undefined;

  private constructor(
    private readonly opts: FrontDoorOptions,
    private readonly plain: http.Server,
    private readonly secure: https.Server,
  ) {
    const takeBack = (socket: Socket, unread: Buffer | undefined) => {
      if (unread) socket.unshift(unread);
      plain.emit('connection', socket);
    };
    this.fast = new FastPath({ route: (host) => this.fastRoute(host), resolve: (container) => opts.resolve(container), handOff: takeBack });
    const serveHere = (socket: Socket) => {
      socket.resume();
      this.fast.accept(socket);
    };
    this.workers = opts.workers ? new FrontDoorWorkers({ count: opts.workers, routes: () => routeTable(opts.sites, opts.resolve), serveHere, takeBack, log: opts.log }) : undefined;
    if (this.workers) opts.sites.onChange = () => this.workers?.routesChanged();
    // Half-open as node:http's own server: a client that ends its side still gets its answer.
    // With workers, a connection is passed on unread (pauseOnConnect), read only by the worker.
    this.plainListener = createServer({ allowHalfOpen: true, pauseOnConnect: this.workers !== undefined }, (socket) => {
      if (this.workers) this.workers.dispatch(socket);
      else this.fast.accept(socket);
    });
  }

  /** Process ids of the front door's worker processes (none unless `workers` was asked for). */
  get workerPids(): number[] {
    return this.workers?.pids ?? [];
  }

  static async start(opts: FrontDoorOptions): Promise<FrontDoor> {
    const door: FrontDoor = new FrontDoor(
      opts,
      http.createServer((req, res) => door.handle(req, res, false)),
      https.createServer({
        // The certificate is the site's own, chosen by the name the client asked for.
        SNICallback: (name, done) => {
          const tls = opts.sites.lookup(name)?.tls;
          done(tls ? null : new Error(`no site with a certificate is published at ${name}`), tls);
        },
      }, (req, res) => door.handle(req, res, true)),
    );
    for (const server of [door.plain, door.secure]) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => door.upgrade(req, socket, head));
      server.on('clientError', (_err, socket) => socket.destroy());
    }
    await listen(door.plainListener, opts.host, opts.httpPort);
    await listen(door.secure, opts.host, opts.httpsPort);
    return door;
  }

  get httpPort(): number {
    return (this.plainListener.address() as AddressInfo).port;
  }

  get httpsPort(): number {
    return (this.secure.address() as AddressInfo).port;
  }

  /**
   * Also take connections on `host`, same ports, from addresses in the IPv4 `subnet` only (the
   * containers' gateway and subnet, so containers on this machine reach published names, and no
   * other machine gains a way in); once per address (asked on every spawn: later calls only wait). A front door listening on every address already does. When
   * the address or a port there is taken, says so in the log once.
   */
  alsoListen(host: string, subnet: string): Promise<void> {
    if (['0.0.0.0', '::', this.opts.host].includes(host)) return Promise.resolve();
    let listening = this.extra.get(host);
    if (!listening) {
      // Plain sockets handed to the HTTP(S) servers: one request handler, one set of connections to close.
      listening = (async () => {
        const [base, bits] = subnet.split('/');
        const from = new BlockList();
        from.addSubnet(base, Number(bits), 'ipv4');
        const opened: Server[] = [];
        try {
          const ports: [(socket: Socket) => void, number][] = [
            [(socket) => this.fast.accept(socket), this.httpPort],
            [(socket) => this.secure.emit('connection', socket), this.httpsPort],
          ];
          for (const [take, port] of ports) {
            const forward = createServer({ allowHalfOpen: true }, (socket) => {
              if (socket.remoteAddress && from.check(socket.remoteAddress)) take(socket);
              else socket.destroy();
            });
            opened.push(forward);
            await listen(forward, host, port);
          }
          return opened;
        } catch (err) {
          for (const server of opened) server.close(() => undefined);
          this.opts.log(`${(err as Error).message}; containers there cannot reach it`);
          return [];
        }
      })();
      this.extra.set(host, listening);
    }
    return listening.then(() => undefined);
  }

  async close(): Promise<void> {
    const extra = (await Promise.all(this.extra.values())).flat();
    for (const server of extra) server.close(() => undefined);
    this.opts.sites.onChange = undefined;
    // Closed before the workers end: a listener whose connections went to workers asks them how
    // many are left and waits for the answer, which their exit gives.
    const closed = Promise.all([this.plainListener, this.secure].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await this.workers?.close();
    this.agent.destroy();
    this.fast.close();
    for (const server of [this.plain, this.secure]) server.closeAllConnections();
    await closed;
  }

  /** The site the fast path may serve for a Host header: a published name, not an address, without TLS. */
  private fastRoute(header: string): Site | undefined {
    const { name, address } = this.hostInfo(header);
    if (!name || address) return undefined;
    const site = this.opts.sites.lookup(name);
    return site && !site.tls ? site : undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
    const site = this.siteFor(req, (status, message) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${message}\n`));
    if (!site) return;
    if (site.tls && !secure) {
      res.writeHead(301, { location: this.httpsUrl(site, req) }).end();
      return;
    }
    const exchange: Exchange = { site, req, res, secure, headers: forwardHeaders(req, site, secure), failed: undefined, upstream: undefined };
    // One listener for every attempt (a retry must not add another): the client went away.
    res.once('close', () => {
      if (!res.writableFinished) exchange.upstream?.destroy();
    });
    this.forward(exchange, 0);
  }

  private httpsUrl(site: Site, req: IncomingMessage): string {
    const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
    return `https://${site.fqdn}${port}${req.url ?? '/'}`;
  }

  /** The site for the request's Host, or undefined after answering the request with why not. */
  private siteFor(req: IncomingMessage, fail: (status: number, message: string) => void): Site | undefined {
    const { name: host, address } = this.hostInfo(req.headers.host ?? '');
    if (!host) return void fail(400, 'the request has no Host header; ask for a published host name');
    if (address) return void fail(421, `this front door routes by host name, not address (${host}); ask for a published name`);
    // Over TLS the certificate was chosen by SNI: a Host naming another site must not reach it
    // through this connection (its certificate never vouched for that name).
    const sni = 'encrypted' in req.socket ? (req.socket as TLSSocket).servername : undefined;
    if (sni && hostName(sni) !== host) return void fail(421, `this connection's TLS name is ${hostName(sni)}, not ${host}; open a connection for ${host}`);
    const site = this.opts.sites.lookup(host);
    if (!site) return void fail(404, `no site is published at ${host}`);
    return site;
  }

  /** The Host header's name, and whether it is an address; remembered, as the same few names come on every request. */
  private hostInfo(header: string): HostInfo {
    let info = this.hosts.get(header);
    if (!info) {
      const name = hostName(header);
      // (Only a name with a colon can be IPv6: node's IPv6 pattern is costly.)
      info = { name, address: name !== undefined && (name.includes(':') ? isIP(name) !== 0 : isIPv4(name)) };
      if (this.hosts.size >= HOST_MEMO) this.hosts.clear(); // many names (a scan): forget, stay bounded
      this.hosts.set(header, info);
    }
    return info;
  }

  private forward(exchange: Exchange, attempt: number): void {
    const { site, req, res, failed } = exchange;
    const up = nextUpstream(site, this.opts.resolve, failed ?? NONE_FAILED);
    if (!up && failed && failed.size > 0 && attempt < MAX_ATTEMPTS) {
      // Every member refused: they may be restarting. Try them all again shortly, a few times.
      failed.clear();
      const retry = setTimeout(() => {
        res.off('close', cancel);
        this.forward(exchange, attempt + 1);
      }, RETRY_PAUSE_MS * attempt);
      const cancel = () => clearTimeout(retry);
      res.once('close', cancel);
      return;
    }
    if (!up) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end(`no running container serves ${site.fqdn} right now\n`);
      return;
    }
    const withBody = hasBody(req);
    let bodySent = false;
    const request = http.request({
      host: up.ip, port: UPSTREAM_PORT, method: req.method, path: req.url, headers: exchange.headers,
      // Dialled upstreams (a relay to an overlay) get a connection per request: no keep-alive pool.
      // (Node uses createConnection only when no agent is given.)
      ...(up.dial ? { createConnection: viaDial(up.dial) } : { agent: this.agent }),
    });
    exchange.upstream = request;
    // 101 to a request that asked for no upgrade: there is no protocol to switch to; say so at once.
    request.on('upgrade', (_answer, socket: Socket) => {
      socket.destroy();
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`container ${up.id} of ${site.fqdn} switched protocols on a plain request\n`);
      else res.destroy();
    });
    request.on('response', (answer) => {
      try {
        const status = answer.statusCode ?? 502;
        res.writeHead(status, reasonPhrase(status, answer.statusMessage), endToEnd(answer.rawHeaders));
      } catch (err) {
        // Whatever the container sent that node will not pass on (a header value it refuses): a
        // throw here, inside an event handler, would end the location process.
        answer.destroy();
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`container ${up.id} of ${site.fqdn} sent an answer that is not valid HTTP: ${(err as Error).message}\n`);
        else res.destroy();
        return;
      }
      // By hand rather than pipe(): two listeners (a third while the client is behind) instead of
      // pipe's eight, added and removed on every answer. Back-pressure as pipe's: the container is
      // paused until the client catches up. A client gone away needs nothing here (its close
      // listener destroys the request).
      const resume = () => answer.resume();
      answer.on('data', (chunk: Buffer) => {
        if (res.write(chunk)) return;
        answer.pause();
        res.once('drain', resume);
      });
      answer.on('end', () => res.end());
      answer.on('error', (err) => res.destroy(err)); // the container went away mid-answer: cut it short, visibly
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (res.headersSent) return void res.destroy(err);
      // Safe to send again: nothing of the body is gone. A kept-alive socket the container had
      // just closed is the same member's fault only once; anything else, try the next member.
      if ((!withBody || !bodySent) && attempt < MAX_ATTEMPTS) {
        if (!request.reusedSocket) (exchange.failed ??= new Set()).add(up.id);
        return this.forward(exchange, attempt + 1);
      }
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`container ${up.id} of ${site.fqdn} failed: ${err.code ?? err.message}\n`);
    });
    if (!withBody) return void request.end();
    request.on('socket', (socket: Socket) => {
      const send = () => {
        bodySent = true;
        req.pipe(request);
      };
      if (socket.connecting) socket.once('connect', send);
      else send();
    });
  }

  /**
   * Upgrades (WebSocket): the raw connection is joined to one running member's. Only WebSocket:
   * other protocols (h2c) would make the door a raw pipe it can no longer route or police.
   */
  private upgrade(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const secure = 'encrypted' in req.socket;
    const answer = (status: string, message: string, extra = '') => {
      client.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message) + 1}\r\n${extra}connection: close\r\n\r\n${message}\n`);
    };
    client.on('error', () => client.destroy());
    const protocols = connectionTokens(req.headers.upgrade);
    if (protocols.size !== 1 || !protocols.has('websocket')) {
      return answer('400 Bad Request', `the front door upgrades only to websocket (asked: ${String(req.headers.upgrade).slice(0, 60)}); send the request without Upgrade`);
    }
    const site = this.siteFor(req, (status, message) => answer(`${status} ${http.STATUS_CODES[status]}`, message));
    if (!site) return;
    if (site.tls && !secure) return answer('301 Moved Permanently', '', `location: ${this.httpsUrl(site, req)}\r\n`);
    const up = nextUpstream(site, this.opts.resolve, new Set());
    if (!up) return answer('503 Service Unavailable', `no running container serves ${site.fqdn} right now`);
    const join = (upstream: Socket) => {
      const headers = [...forwardHeaders(req, site, secure), 'connection', 'Upgrade', 'upgrade', 'websocket'];
      let lines = '';
      for (let i = 0; i < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${lines}\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
      const drop = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', drop);
      client.on('error', drop);
    };
    if (up.dial) return void up.dial(UPSTREAM_PORT).then(join, () => client.destroy());
    const upstream = connect({ host: up.ip, port: UPSTREAM_PORT }, () => join(upstream));
    upstream.on('error', () => client.destroy());
  }
}

/** http.request's `createConnection` from a dialler that resolves (a relay answers asynchronously). */
function viaDial(dial: (port: number) => Promise<Socket>): NonNullable<http.RequestOptions['createConnection']> {
  return (_options, connected) => {
    dial(UPSTREAM_PORT).then((socket) => connected(null, socket), (err: Error) => connected(err, undefined as unknown as Socket));
    return undefined;
  };
}

/**
 * A reason phrase node will write: it throws on control bytes, which a container may send (HTTP
 * allows tab, space, visible ASCII and obs-text; RFC 9112 §4). The phrase means nothing to clients.
 */
function reasonPhrase(status: number, message: string | undefined): string | undefined {
  if (message === http.STATUS_CODES[status]) return message; // the usual phrase: nothing to clean
  return message?.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * The request's end-to-end headers, Host rewritten if the site says so, and X-Forwarded-*, as
 * name, value pairs. From node's header object (duplicates merged or dropped as node does).
 */
function forwardHeaders(req: IncomingMessage, site: Site, secure: boolean): string[] {
  const headers = req.headers;
  const named = headers.connection ? connectionTokens(headers.connection) : undefined;
  const out: string[] = [];
  for (const key in headers) {
    if (HOP_BY_HOP.has(key) || SET_BY_DOOR.has(key) || named?.has(key) || (key === 'host' && site.rewrite)) continue;
    const value = headers[key];
    if (typeof value === 'string') out.push(key, value);
    else if (value) for (const v of value) out.push(key, v);
  }
  if (headers['transfer-encoding']) out.push('transfer-encoding', 'chunked'); // node re-chunks the piped body
  const client = req.socket.remoteAddress ?? '';
  const prior = headers['x-forwarded-for'];
  out.push('x-forwarded-for', prior ? `${String(prior)}, ${client}` : client);
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  out.push('x-forwarded-proto', secure ? 'https' : 'http');
  if (site.rewrite) out.push('host', site.rewrite);
  return out;
}

/** A response's raw headers without the hop-by-hop ones (node frames the body itself). */
function endToEnd(raw: string[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    if (key === 'connection') for (const t of connectionTokens(raw[i + 1])) if (!HOP_BY_HOP.has(t)) (named ??= new Set()).add(t);
    if (!HOP_BY_HOP.has(key)) out.push(raw[i], raw[i + 1]);
  }
  if (!named) return out; // the usual case: Connection names only keep-alive or nothing
  // Tokens may name headers that came before the Connection header: a second pass drops them.
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i].toLowerCase())) kept.push(out[i], out[i + 1]);
  return kept;
}

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  // The usual values, on nearly every answer: no parsing.
  if (value === 'keep-alive' || value === 'close') return value === 'close' ? CLOSE : KEEP_ALIVE;
  return new Set(String(value ?? '').toLowerCase().split(',').map((t) => t.trim()).filter(Boolean));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EACCES' || err.code === 'EADDRINUSE'
        ? new Error(`the front door cannot listen on ${host}:${port} (${err.code}); pick another port (--http-port / --https-port, or 0 for any free one)`)
        : err);
    });
    server.listen(port, host, () => resolve());
  });
}
