/**
 * The location's door for tunnel data connections (lib/protocol/data-pipe.ts): an HTTP Upgrade to
 * `tfnz-tunnel` on the session port, naming a session and connection and carrying the single-use
 * secret tunnel_link handed out (or upload_layer, for a layer's bytes: upload-links.ts). Anything else (no such session, a wrong, used or expired secret,
 * garbage) gets 403 and the socket is closed, without telling the stranger which part was wrong;
 * nothing of the session is touched. The HTTP server's header timeout bounds a slow sender.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DATA_HEADERS, DATA_UPGRADE, countHeader } from '../protocol/data-connection';
import type { Session } from './session';

const SECRET_BYTES = 32;

/** Whether `req` asks for a data connection rather than the session's WebSocket. */
export function isDataUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === DATA_UPGRADE;
}

export function acceptDataConnection(
  req: IncomingMessage, socket: Duplex, head: Buffer, findSession: (id: string) => Session | undefined, log: (line: string) => void,
): void {
  const refuse = (why: string) => {
    log(`refused a tunnel data connection from ${req.socket.remoteAddress}: ${why}`);
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const h = req.headers;
  const conn = countHeader(h[DATA_HEADERS.conn]);
  const peerReceived = countHeader(h[DATA_HEADERS.received]);
  const secretText = h[DATA_HEADERS.secret];
  const sessionId = h[DATA_HEADERS.session];
  const secret = typeof secretText === 'string' ? Buffer.from(secretText, 'base64url') : undefined;
  if (conn === undefined || peerReceived === undefined || secret?.length !== SECRET_BYTES || typeof sessionId !== 'string') {
    return refuse('malformed request');
  }
  const session = findSession(sessionId);
  // A tunnel connection's, or (#17) a layer upload's.
  const link = session?.opened && !session.ended ? (session.tunnels.takeLink(conn, secret) ?? session.uploadLinks.take(conn, secret)) : undefined;
  if (!link) return refuse('unknown, used or expired secret');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${DATA_UPGRADE}\r\n${DATA_HEADERS.received}: ${link.received}\r\n\r\n`);
  if (head.length) socket.unshift(head);
  if (!link.attach(socket as Socket, peerReceived)) log(`closed a tunnel data connection of session ${sessionId}: it claimed ${peerReceived} bytes received, which is impossible`);
}
