/**
 * The front door's fast path for plain HTTP/1.1: request heads are read straight off the client's
 * socket (http-wire.ts), rewritten (hop-by-hop headers out, X-Forwarded-* in) and written to a
 * kept-alive connection to the member chosen for that request; the answer's bytes go back as
 * they came, only framed to find where they end. node:http's server and client parse and build
 * every head and cost most of the door's CPU per request; here one string per request is built.
 *
 * Anything else goes to node:http's path (front-door.ts), which answers it as before: the
 * connection is handed over, its unread bytes put back, at a request's start. That covers
 * chunked bodies, Expect, Upgrade, HTTP/1.0, unknown or TLS-only names, addresses, and sites
 * whose members are dialled. Requests on one connection are handled one after the other
 * (pipelined ones wait their turn), each going to the next member round-robin.
 */
import { STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import { BadResponse, ResponseFramer, scanRequestHead, type PlainRequest } from './http-wire';
import { MAX_ATTEMPTS, RETRY_PAUSE_MS, UPSTREAM_PORT, nextUpstream, type Site, type Upstream } from './web-sites';

export interface FastPathOptions {
  /** The site a Host header names when the fast path may serve it, else undefined. */
  route(host: string): Site | undefined;
  resolve(container: string): Upstream | undefined;
  /** Takes over a connection at a request's start; `unread` came before whatever the socket still holds. */
  handOff(client: Socket, unread: Buffer | undefined): void;
}

/** A client connection idle between requests this long is closed (node:http's keepAliveTimeout). */
const CLIENT_IDLE_MS = 5_000;
/** A kept-alive connection to a member unused this long is closed (as front-door.ts's agent). */
const UPSTREAM_IDLE_MS = 30_000;
/** The longest a request head may take to arrive whole (node:http's headersTimeout): a client trickling one byte at a time is cut off. */
const HEAD_TIMEOUT_MS = 60_000;
/** Kept-alive connections kept per member. */
const MAX_IDLE_PER_MEMBER = 64;
/** Pipelined bytes read ahead of the request being served before the client is paused. */
const MAX_READ_AHEAD = 64 * 1024;
/** The buffer each member connection reads into (net's `onread`): reused for every read. */
const UPSTREAM_READ_BYTES = 64 * 1024;

/**
 * A connection to a member, kept alive between requests; its listeners are attached once. Its
 * bytes are read with net's `onread` into a buffer of its own, reused read after read: no
 * Readable stream machinery and no new Buffer per read. When a read's bytes are still queued for
 * the client after the write (the client is behind), the next read goes to a new buffer.
 */
class UpstreamConnection {
  owner: ClientConnection | undefined;
  connected = false;
  closed = false;
  readonly socket: Socket;
  private buffer = Buffer.allocUnsafe(UPSTREAM_READ_BYTES);

  constructor(readonly ip: string, private readonly pool: UpstreamPool) {
    const socket = (this.socket = connect({
      host: ip, port: UPSTREAM_PORT,
      // (A function: net asks it for the buffer of every next read.)
      onread: { buffer: () => this.buffer, callback: (n) => this.read(n) },
    }));
    socket.setNoDelay(true);
    // Set once: every read and write re-arms it, and it fires only for an idle connection in the
    // pool (a new timer per request, set in put and cleared in take, cost a Timeout each).
    socket.setTimeout(UPSTREAM_IDLE_MS);
    socket.on('connect', () => {
      this.connected = true;
      this.owner?.upstreamConnected(this);
    });
    socket.on('end', () => this.lost(undefined));
    socket.on('error', (err) => this.lost(err));
    socket.on('close', () => this.lost(undefined));
    socket.on('timeout', () => {
      if (!this.owner) socket.destroy();
    });
    socket.on('drain', () => this.owner?.upstreamDrained());
  }

  /** `n` bytes arrived in the read buffer; false pauses reading (the client is full). */
  private read(n: number): boolean {
    if (!this.owner) {
      this.socket.destroy(); // bytes nobody asked for: this connection is not to be trusted again
      return false;
    }
    const client = this.owner.socket;
    const queuedBefore = client.writableLength;
    const more = this.owner.upstreamData(this, this.buffer.subarray(0, n));
    // Some of these bytes wait in the client's write queue, by reference: keep them intact.
    if (client.writableLength > queuedBefore) this.buffer = Buffer.allocUnsafe(UPSTREAM_READ_BYTES);
    return more;
  }

  private lost(err: NodeJS.ErrnoException | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.forget(this);
    const owner = this.owner;
    this.owner = undefined;
    owner?.upstreamLost(this, err);
    this.socket.destroy();
  }
}

class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();

  take(ip: string): UpstreamConnection | undefined {
    const list = this.idle.get(ip);
    return list?.pop();
  }

  open(ip: string): UpstreamConnection {
    return new UpstreamConnection(ip, this);
  }

  put(conn: UpstreamConnection): void {
    let list = this.idle.get(conn.ip);
    if (!list) this.idle.set(conn.ip, (list = []));
    if (list.length >= MAX_IDLE_PER_MEMBER) return void conn.socket.destroy();
    list.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    const list = this.idle.get(conn.ip);
    const at = list?.indexOf(conn) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (list?.length === 0) this.idle.delete(conn.ip);
  }

  destroy(): void {
    for (const list of this.idle.values()) for (const conn of list) conn.socket.destroy();
    this.idle.clear();
  }
}

/** One request on its way to a member, across the attempts it may take. */
interface Exchange {
  readonly request: PlainRequest;
  readonly site: Site;
  /** The head as the members get it. */
  readonly head: string;
  failed: Set<string> | undefined;
  attempt: number;
  upstream: UpstreamConnection | undefined;
  member: string;
  reused: boolean;
  /** Body bytes still to come from the client (after `sent` started). */
  bodyLeft: number;
  /** Some of the body has left for the member: the request cannot be sent again. */
  sent: boolean;
  framer: ResponseFramer;
  retry: NodeJS.Timeout | undefined;
}

class ClientConnection {
  /** Bytes read and not yet part of a request being served. */
  private pending: Buffer | undefined;
  private exchange: Exchange | undefined;
  /** The client ended its side. */
  private ended = false;
  /** The door ended its side: whatever the client still sends is not read as requests. */
  private closing = false;
  /** Runs while a request head has begun to arrive and is not whole yet. */
  private headTimer: NodeJS.Timeout | undefined;

  constructor(private readonly path: FastPath, readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.setTimeout(CLIENT_IDLE_MS);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closing) return;
    const ex = this.exchange;
    // (No upstream: the exchange failed and the client is being cut off; these bytes go nowhere.)
    if (ex && ex.sent && ex.bodyLeft > 0 && ex.upstream) {
      const body = chunk.length <= ex.bodyLeft ? chunk : chunk.subarray(0, ex.bodyLeft);
      ex.bodyLeft -= body.length;
      if (!ex.upstream.socket.write(body)) this.socket.pause();
      if (body.length === chunk.length) return;
      chunk = chunk.subarray(body.length);
    }
    this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.exchange) this.next();
    else if (this.pending.length > MAX_READ_AHEAD) this.socket.pause();
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    if (!this.exchange) this.next();
  };
  private readonly onTimeout = (): void => {
    if (!this.exchange) this.socket.destroy();
  };
  private readonly onDrain = (): void => {
    const up = this.exchange?.upstream;
    if (up && !up.closed) up.socket.resume();
  };
  private readonly onClose = (): void => {
    this.path.clients.delete(this);
    clearTimeout(this.headTimer);
    const ex = this.exchange;
    this.exchange = undefined;
    if (!ex) return;
    clearTimeout(ex.retry);
    if (ex.upstream) this.release(ex.upstream, false);
  };

  /** Serves the next request read, or hands the connection over, or waits for more bytes. */
  private next(): void {
    const data = this.pending;
    if (!data || data.length === 0) {
      if (this.ended) this.close();
      return;
    }
    const scan = scanRequestHead(data);
    if (scan.kind === 'incomplete') {
      if (this.ended) return this.close(); // half a head, and no more to come
      this.headTimer ??= setTimeout(() => this.answer(408, `the request head did not arrive whole in ${HEAD_TIMEOUT_MS / 1000} s; send it at once`), HEAD_TIMEOUT_MS);
      return;
    }
    if (this.headTimer) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    }
    if (scan.kind === 'bad') return this.answer(scan.status, scan.reason);
    const site = scan.kind === 'request' ? this.path.route(scan.host) : undefined;
    // No member up right now, or one reached by dialling: node:http's path waits, dials, answers.
    const up = site && nextUpstream(site, this.path.resolve, NO_FAILURES);
    if (scan.kind === 'unusual' || !up || up.dial) return this.handOff();
    this.pending = data.length > scan.headLength ? data.subarray(scan.headLength) : undefined;
    const ex: Exchange = {
      request: scan, site: site!, head: forwardedHead(scan, site!, this.socket.remoteAddress ?? ''), failed: undefined, attempt: 0,
      upstream: undefined, member: '', reused: false, bodyLeft: scan.bodyLength, sent: false,
      framer: new ResponseFramer(scan.method === 'HEAD'), retry: undefined,
    };
    this.exchange = ex;
    this.send(ex, up);
  }

  private handOff(): void {
    const socket = this.socket;
    clearTimeout(this.headTimer);
    socket.setTimeout(0);
    socket.off('data', this.onData).off('error', this.onError).off('close', this.onClose).off('timeout', this.onTimeout);
    socket.off('drain', this.onDrain).off('end', this.onEnd);
    this.path.clients.delete(this);
    const unread = this.pending;
    this.pending = undefined;
    this.path.handOff(socket, unread);
  }

  /** One attempt: the next member, a kept-alive connection to it or a new one. */
  private send(ex: Exchange, chosen?: Upstream): void {
    let up = chosen ?? nextUpstream(ex.site, this.path.resolve, ex.failed ?? NO_FAILURES);
    while (up?.dial) {
      // A member reached by dialling (on another host), met on a later attempt: this path sends
      // only to members it can reach itself, so it tries the others (node:http's path dials).
      (ex.failed ??= new Set()).add(up.id);
      up = nextUpstream(ex.site, this.path.resolve, ex.failed);
    }
    if (!up && ex.failed && ex.failed.size > 0 && ex.attempt < MAX_ATTEMPTS) {
      // Every member refused: they may be restarting. Try them all again shortly, a few times.
      ex.failed.clear();
      ex.retry = setTimeout(() => this.send(ex), RETRY_PAUSE_MS * ex.attempt);
      ex.attempt++;
      return;
    }
    if (!up) {
      return this.answer(503, `no running container serves ${ex.site.fqdn} right now`, 'retry-after: 1\r\n');
    }
    ex.member = up.id;
    let conn = this.path.pool.take(up.ip);
    ex.reused = conn !== undefined;
    conn ??= this.path.pool.open(up.ip);
    conn.owner = this;
    ex.upstream = conn;
    conn.socket.write(ex.head, 'latin1');
    // The body leaves only once connected: a refused connection can still send it elsewhere.
    if (conn.connected) this.startBody(ex);
  }

  upstreamConnected(conn: UpstreamConnection): void {
    const ex = this.exchange;
    if (ex?.upstream === conn) this.startBody(ex);
  }

  private startBody(ex: Exchange): void {
    if (ex.bodyLeft === 0) return;
    ex.sent = true;
    const pending = this.pending;
    if (!pending) return;
    const body = pending.length <= ex.bodyLeft ? pending : pending.subarray(0, ex.bodyLeft);
    ex.bodyLeft -= body.length;
    this.pending = body.length === pending.length ? undefined : pending.subarray(body.length);
    if (!ex.upstream!.socket.write(body)) this.socket.pause();
    else this.socket.resume(); // paused while the body waited for the connection
  }

  upstreamDrained(): void {
    if (this.exchange && this.exchange.bodyLeft > 0) this.socket.resume();
  }

  /** The member's next bytes; false when the client is full (the member is paused until it drains). */
  upstreamData(conn: UpstreamConnection, chunk: Buffer): boolean {
    const ex = this.exchange;
    if (ex?.upstream !== conn) return true;
    let parts: Buffer[];
    try {
      parts = ex.framer.push(chunk);
    } catch (err) {
      this.failResponse(ex, `sent an answer that is not valid HTTP: ${(err as BadResponse).message}`);
      return false;
    }
    let full = false;
    for (const part of parts) full = !this.socket.write(part);
    if (ex.framer.done) {
      this.finish(ex);
      return true;
    }
    return !full;
  }

  upstreamLost(conn: UpstreamConnection, err: NodeJS.ErrnoException | undefined): void {
    const ex = this.exchange;
    if (ex?.upstream !== conn) return;
    ex.upstream = undefined;
    if (ex.framer.end()) return this.finish(ex);
    if (ex.framer.started) return void this.socket.destroy(); // cut short mid-answer: visibly
    // Nothing of the answer came. Safe to send again if none of the body left. A kept-alive
    // connection the member had just closed is that member's fault only once.
    if ((ex.request.bodyLength === 0 || !ex.sent) && ex.attempt < MAX_ATTEMPTS) {
      if (!ex.reused) (ex.failed ??= new Set()).add(ex.member);
      ex.attempt++;
      ex.framer = new ResponseFramer(ex.request.method === 'HEAD');
      return this.send(ex);
    }
    this.answer(502, `container ${ex.member} of ${ex.site.fqdn} failed: ${err?.code ?? err?.message ?? 'it closed the connection without answering'}`);
  }

  private failResponse(ex: Exchange, why: string): void {
    if (ex.upstream) this.release(ex.upstream, false);
    ex.upstream = undefined;
    if (ex.framer.started) return void this.socket.destroy();
    this.answer(502, `container ${ex.member} of ${ex.site.fqdn} ${why}`);
  }

  /** The answer is whole: the member's connection goes back to the pool, the next request is read. */
  private finish(ex: Exchange): void {
    const reusable = ex.framer.keepAlive && !ex.framer.extra && ex.bodyLeft === 0 && ex.sent === (ex.request.bodyLength > 0);
    if (ex.upstream) this.release(ex.upstream, reusable);
    this.exchange = undefined;
    // The client was told (or asked) the connection ends here, or its body was cut short by an early answer.
    if (ex.request.close || ex.framer.clientClose || ex.bodyLeft > 0) return this.close();
    this.socket.resume();
    this.next();
  }

  /** Ends the door's side (after `last`); the client's unread bytes are left unread (not reset: it still reads the answer). */
  private close(last?: string): void {
    this.closing = true;
    clearTimeout(this.headTimer);
    this.pending = undefined;
    this.socket.resume();
    if (last === undefined) this.socket.end();
    else this.socket.end(last, 'latin1');
  }

  private release(conn: UpstreamConnection, reusable: boolean): void {
    conn.owner = undefined;
    conn.socket.resume();
    if (reusable && !conn.closed) this.path.pool.put(conn);
    else conn.socket.destroy();
  }

  /** The door's own answer; the connection then closes (the rest of what the client sent is not read). */
  private answer(status: number, message: string, extra = ''): void {
    const ex = this.exchange;
    this.exchange = undefined;
    if (ex) {
      clearTimeout(ex.retry);
      if (ex.upstream) this.release(ex.upstream, false);
    }
    this.pending = undefined;
    const body = `${message}\n`;
    this.close(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
  }
}

const NO_FAILURES: ReadonlySet<string> = new Set();

/** The head a member gets: the client's end-to-end headers, Host rewritten if the site says so, X-Forwarded-*. */
function forwardedHead(request: PlainRequest, site: Site, client: string): string {
  const forwardedFor = request.forwardedFor === undefined ? client : `${request.forwardedFor}, ${client}`;
  const host = site.rewrite ?? request.host;
  return `${request.requestLine}\r\nhost: ${host}\r\n${request.headers}x-forwarded-for: ${forwardedFor}\r\nx-forwarded-host: ${request.host}\r\nx-forwarded-proto: http\r\n\r\n`;
}

export class FastPath {
  readonly clients = new Set<ClientConnection>();
  readonly pool = new UpstreamPool();

  constructor(private readonly opts: FastPathOptions) {}

  route(host: string): Site | undefined {
    return this.opts.route(host);
  }

  resolve = (container: string): Upstream | undefined => this.opts.resolve(container);

  handOff(client: Socket, unread: Buffer | undefined): void {
    this.opts.handOff(client, unread);
  }

  /** A new client connection on the plain HTTP port. */
  accept(socket: Socket): void {
    this.clients.add(new ClientConnection(this, socket));
  }

  close(): void {
    for (const client of this.clients) client.socket.destroy();
    this.clients.clear();
    this.pool.destroy();
  }
}
