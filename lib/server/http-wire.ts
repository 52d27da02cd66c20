/**
 * HTTP/1.1 on the wire, for the front door's fast path: a small, strict scanner for request heads
 * and a framer that finds where a response ends without parsing more of it than that. Strict on
 * purpose: whatever it does not recognise as plain, it calls `unusual` (node:http then takes the
 * connection) or `bad` (a 400, then the connection closes). What counts as bad is what a proxy
 * must never pass on, as a second parser behind it may read it differently (request smuggling):
 * Content-Length beside Transfer-Encoding, Content-Length twice, folded lines, bare CR or LF,
 * whitespace before a colon, two Host headers.
 */

/** The most a request head may take; node:http's default limit too. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A plain request: GET-like, or with a body of Content-Length bytes. */
export interface PlainRequest {
  kind: 'request';
  /** Bytes of the head, its blank line included. */
  headLength: number;
  method: string;
  /** The request line as sent (origin-form target, HTTP/1.1). */
  requestLine: string;
  /** The Host header's value. */
  host: string;
  /** The end-to-end header lines to pass on, each ending CRLF; without Host, hop-by-hop and X-Forwarded-* ones. */
  headers: string;
  /** X-Forwarded-For as the client sent it (its lines joined), if it did. */
  forwardedFor: string | undefined;
  bodyLength: number;
  /** The client asked to close the connection after this answer. */
  close: boolean;
}

export type HeadScan =
  | PlainRequest
  | { kind: 'incomplete' }
  /** Well-formed perhaps, but not for the fast path (chunked body, Expect, Upgrade, HTTP/1.0, ...). */
  | { kind: 'unusual' }
  | { kind: 'bad'; status: 400 | 431; reason: string };

const INCOMPLETE: HeadScan = { kind: 'incomplete' };
const UNUSUAL: HeadScan = { kind: 'unusual' };
const bad = (reason: string, status: 400 | 431 = 400): HeadScan => ({ kind: 'bad', status, reason });

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: tab, visible ASCII, space and obs-text (RFC 9110 §5.5); CR, LF, NUL and other controls are not. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** Headers about one hop (RFC 9110 §7.6.1) and the ones the door writes itself: never passed on. */
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'x-forwarded-host', 'x-forwarded-proto']);
/** Headers whose presence sends the request to node:http: it knows what to do with them. */
const UNUSUAL_HEADERS = new Set(['transfer-encoding', 'expect', 'upgrade', 'http2-settings']);
const CRLF2 = Buffer.from('\r\n\r\n');

/** Scans the request head at the start of `data`. */
export function scanRequestHead(data: Buffer): HeadScan {
  const end = data.indexOf(CRLF2);
  if (end < 0) {
    if (data.length > MAX_HEAD_BYTES) return bad(`the request head is larger than ${MAX_HEAD_BYTES} bytes; send fewer or shorter headers`, 431);
    // A bare LF or CR already there will never become a head: say so now, not after the limit.
    const text = data.toString('latin1');
    const cr = text.indexOf('\r');
    if (/(^|[^\r])\n/.test(text) || (cr >= 0 && /\r(?!\n|$)/.test(text))) return bad('the request has a bare CR or LF; end every line with CRLF');
    return INCOMPLETE;
  }
  if (end + 4 > MAX_HEAD_BYTES) return bad(`the request head is larger than ${MAX_HEAD_BYTES} bytes; send fewer or shorter headers`, 431);
  const lines = data.toString('latin1', 0, end).split('\r\n');
  const line = lines[0];
  if (line === '') return UNUSUAL; // blank lines before the request line: node:http skips them
  const match = REQUEST_LINE.exec(line);
  if (!match) {
    if (/[\r\n]/.test(line)) return bad('the request has a bare CR or LF; end every line with CRLF');
    return UNUSUAL; // HTTP/1.0, absolute-form, OPTIONS *, or not HTTP: node:http answers it
  }
  const method = match[1];
  if (method === 'CONNECT') return UNUSUAL;
  let host: string | undefined;
  let contentLength: string | undefined;
  let forwardedFor: string | undefined;
  let close = false;
  let encoded = false;
  let unusual = false;
  let headers = '';
  for (let i = 1; i < lines.length; i++) {
    const field = lines[i];
    const first = field.charCodeAt(0);
    if (first === 0x20 || first === 0x09) return bad('the request folds a header over lines (obs-fold); send each header on one line');
    const colon = field.indexOf(':');
    if (colon <= 0) return bad(`the request has a malformed header line; send "name: value"`);
    const name = field.slice(0, colon);
    if (!TOKEN.test(name)) return bad(/[\r\n]/.test(name) ? 'the request has a bare CR or LF; end every line with CRLF' : 'a header name has a space or another character HTTP does not allow there');
    const value = field.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return bad(/[\r\n]/.test(value) ? 'the request has a bare CR or LF; end every line with CRLF' : `header ${name} has a control character in its value`);
    const key = name.toLowerCase();
    switch (key) {
      case 'host':
        if (host !== undefined) return bad('the request has two Host headers; send one');
        host = value;
        continue;
      case 'content-length':
        if (contentLength !== undefined) return bad('the request has two Content-Length headers; send one');
        if (!/^\d{1,15}$/.test(value)) return bad(`Content-Length ${value.slice(0, 20)} is not a length; send the body's size in bytes`);
        contentLength = value;
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const t = token.trim();
          if (t === 'close') close = true;
          // Any other token names a header to drop, or asks for an upgrade: node:http's path does that.
          else if (t !== 'keep-alive' && t !== '') unusual = true;
        }
        continue;
    }
    // Read on to the end all the same: a bad line further down still gets its 400.
    if (UNUSUAL_HEADERS.has(key)) unusual = true;
    if (key === 'transfer-encoding') encoded = true;
    else if (!DROPPED.has(key)) headers += `${field}\r\n`;
  }
  if (encoded && contentLength !== undefined) return bad('the request has both Content-Length and Transfer-Encoding; send one');
  if (unusual || host === undefined) return UNUSUAL; // node:http answers "no Host header" with the door's message
  return {
    kind: 'request', headLength: end + 4, method, requestLine: line, host, headers, forwardedFor,
    bodyLength: contentLength === undefined ? 0 : Number(contentLength), close,
  };
}

/** An answer from a container the door will not pass on. */
export class BadResponse extends Error {}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\r\n]*))?$/;
/** What a reason phrase may hold (RFC 9112 §4): tab, space, visible ASCII, obs-text. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
const enum Body { None, Length, Chunked, UntilClose }
const enum Chunk { Size, Extension, SizeLf, Data, DataCr, DataLf, TrailerStart, Trailer, TrailerLf, EndLf }

/**
 * Finds where one response ends in the bytes a container sends, checking its head, and passes the
 * bytes on unchanged. `push` returns what to forward so far; `done` says the response is whole.
 */
export class ResponseFramer {
  /** The response ended (for a body until close: call `end` at the container's EOF). */
  done = false;
  /** The container's connection may carry another request after this response. */
  keepAlive = true;
  /** The client was told this connection ends with this response (or it ends at the container's EOF). */
  clientClose = false;
  /** Bytes past the end of the response (a container that answers twice): the connection is not reused. */
  extra = false;
  /** Some of the response was handed out to forward. */
  started = false;
  status = 0;
  private head: Buffer | undefined;
  private body = Body.None;
  private remaining = 0;
  private chunk = Chunk.Size;
  private sizeDigits = 0;

  constructor(private readonly headRequest: boolean) {}

  /** Feeds the container's next bytes; the parts to forward to the client, in order. Throws BadResponse. */
  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    /** Every part handed out is `data`'s own bytes, in order: one write can carry them all. */
    let contiguous = this.head === undefined;
    while (at < data.length && !this.done) {
      if (this.body === Body.None) {
        // In the head (or between an interim 1xx answer and the final one).
        const from = this.head ? this.head.length : 0;
        const joined = this.head ? Buffer.concat([this.head, data.subarray(at)]) : data.subarray(at);
        const end = joined.indexOf(CRLF2, Math.max(0, from - 3));
        if (end < 0) {
          if (joined.length > MAX_HEAD_BYTES * 4) throw new BadResponse(`its answer's head is larger than ${MAX_HEAD_BYTES * 4} bytes`);
          this.head = Buffer.from(joined);
          return out;
        }
        this.head = undefined;
        const headBytes = joined.subarray(0, end + 4);
        at += end + 4 - from;
        const rewritten = this.startBody(headBytes.toString('latin1', 0, end));
        if (rewritten) contiguous = false;
        out.push(rewritten ?? headBytes);
        this.started = true;
        continue;
      }
      const rest = data.subarray(at);
      const used = this.body === Body.Chunked ? this.chunked(rest) : this.counted(rest);
      if (used > 0) out.push(used === rest.length ? rest : rest.subarray(0, used));
      at += used;
    }
    if (at < data.length) this.extra = true;
    if (contiguous && out.length > 1) return [at === data.length ? data : data.subarray(0, at)];
    return out;
  }

  /** The container closed its side: a body that runs until close is whole; anything else was cut short. */
  end(): boolean {
    if (this.body === Body.UntilClose) this.done = true;
    return this.done;
  }

  /** Reads the head; a head to send instead, when its reason phrase needs cleaning or its Connection: close must not reach the client. */
  private startBody(head: string): Buffer | undefined {
    const lines = head.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) throw new BadResponse(/[\r\n]/.test(lines[0]) ? 'its status line has a bare CR or LF' : 'its answer does not start with an HTTP/1.x status line');
    this.status = Number(status[2]);
    if (this.status === 101) throw new BadResponse('it switched protocols on a plain request');
    // A control byte in the reason phrase (it means nothing to clients): dropped, as node:http's path does.
    const reason = status[3];
    const rewrite = reason !== undefined && !REASON.test(reason);
    if (rewrite) lines[0] = `HTTP/1.${status[1]} ${status[2]} ${reason.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')}`;
    let length: string | undefined;
    let chunked = false;
    let encoded = false;
    let close = status[1] === '0';
    for (let i = 1; i < lines.length; i++) {
      const field = lines[i];
      const colon = field.indexOf(':');
      const name = colon > 0 ? field.slice(0, colon) : '';
      const value = field.slice(colon + 1).trim();
      if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) throw new BadResponse(`its answer has a malformed header line (${field.slice(0, 40)})`);
      // Lengths compared without building a lower-case copy of every name.
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== value)) throw new BadResponse(`its Content-Length ${value.slice(0, 20)} is not one length`);
        length = value;
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        encoded = true;
        chunked = /(^|,)\s*chunked\s*$/i.test(value);
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        const tokens = value.toLowerCase();
        if (/(^|,)\s*close\s*(,|$)/.test(tokens)) close = true;
        else if (status[1] === '0' && /(^|,)\s*keep-alive\s*(,|$)/.test(tokens)) close = false;
      }
    }
    if (encoded && length !== undefined) throw new BadResponse('its answer has both Content-Length and Transfer-Encoding');
    if (this.status < 200) return rewrite ? Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1') : undefined; // an interim answer: the final head follows
    this.keepAlive = !close;
    this.clientClose = close && status[1] === '0';
    if (this.headRequest || this.status === 204 || this.status === 304) {
      this.done = true;
    } else if (encoded) {
      if (chunked) this.body = Body.Chunked;
      else this.startUntilClose();
    } else if (length !== undefined) {
      this.body = Body.Length;
      this.remaining = Number(length);
      if (this.remaining === 0) this.done = true;
    } else {
      this.startUntilClose();
    }
    // The container closes its connection after this answer (nginx does after 1000 requests):
    // that is about its hop only; the client's connection goes on, so it must not read "close".
    const dropClose = close && !this.clientClose && this.body !== Body.UntilClose;
    if (!rewrite && !dropClose) return undefined;
    const kept = dropClose ? lines.filter((l) => !/^connection\s*:/i.test(l)) : lines;
    return Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1');
  }

  private startUntilClose(): void {
    this.body = Body.UntilClose;
    this.keepAlive = false;
    this.clientClose = true;
  }

  /** Content-Length or until-close bytes: how many of `data` belong to the response. */
  private counted(data: Buffer): number {
    if (this.body === Body.UntilClose) return data.length;
    const used = Math.min(this.remaining, data.length);
    this.remaining -= used;
    if (this.remaining === 0) this.done = true;
    return used;
  }

  /** Chunked bytes: walks chunk sizes, data, trailers; how many of `data` belong to the response. */
  private chunked(data: Buffer): number {
    let i = 0;
    while (i < data.length && !this.done) {
      const byte = data[i];
      switch (this.chunk) {
        case Chunk.Size: {
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.sizeDigits > 12) throw new BadResponse('a chunk size is too large');
            this.remaining = this.remaining * 16 + digit;
          } else if (this.sizeDigits === 0) {
            throw new BadResponse('a chunk has no size');
          } else if (byte === 0x0d) {
            this.chunk = Chunk.SizeLf;
          } else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
            this.chunk = Chunk.Extension;
          } else {
            throw new BadResponse('a chunk size is not hexadecimal');
          }
          i++;
          break;
        }
        case Chunk.Extension:
          if (byte === 0x0d) this.chunk = Chunk.SizeLf;
          else if (byte === 0x0a) throw new BadResponse('a chunk line has a bare LF');
          i++;
          break;
        case Chunk.SizeLf:
          if (byte !== 0x0a) throw new BadResponse('a chunk line has a bare CR');
          this.sizeDigits = 0;
          this.chunk = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          i++;
          break;
        case Chunk.Data: {
          const used = Math.min(this.remaining, data.length - i);
          this.remaining -= used;
          i += used;
          if (this.remaining === 0) this.chunk = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (byte !== 0x0d) throw new BadResponse('a chunk is longer than its size');
          this.chunk = Chunk.DataLf;
          i++;
          break;
        case Chunk.DataLf:
          if (byte !== 0x0a) throw new BadResponse('a chunk line has a bare CR');
          this.chunk = Chunk.Size;
          i++;
          break;
        case Chunk.TrailerStart:
          this.chunk = byte === 0x0d ? Chunk.EndLf : Chunk.Trailer;
          if (byte === 0x0a) throw new BadResponse('a trailer has a bare LF');
          i++;
          break;
        case Chunk.Trailer:
          if (byte === 0x0d) this.chunk = Chunk.TrailerLf;
          else if (byte === 0x0a) throw new BadResponse('a trailer has a bare LF');
          i++;
          break;
        case Chunk.TrailerLf:
          if (byte !== 0x0a) throw new BadResponse('a trailer has a bare CR');
          this.chunk = Chunk.TrailerStart;
          i++;
          break;
        case Chunk.EndLf:
          if (byte !== 0x0a) throw new BadResponse('the last chunk ends with a bare CR');
          this.done = true;
          i++;
          break;
      }
    }
    return i;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}
