/**
 * The SDK's half of a tunnel data connection's handshake (lib/protocol/data-connection.ts): a TCP
 * connection to the session's own host and port (TLS checked exactly as for the session's socket,
 * tls-pinning.ts), upgraded to `tfnz-tunnel` with a single-use secret from tunnel_link.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { DATA_HEADERS, DATA_PATH, DATA_UPGRADE, countHeader } from '../protocol/data-connection';
import { linkSecurity, type LinkOptions } from './tls-pinning';

/** A data connection ready for raw bytes, and how many bytes the location has received on its pipe. */
export interface DataConnection {
  socket: Socket;
  peerReceived: number;
}

/** What one dial needs: which session and connection, its secret, and our count of bytes received. */
export interface DataDial {
  session: string;
  conn: number;
  secret: Uint8Array;
  received: number;
}

const DIAL_TIMEOUT_MS = 10_000;

export function dialDataConnection(url: string, link: LinkOptions | undefined, dial: DataDial): Promise<DataConnection> {
  const u = new URL(url);
  const tls = u.protocol === 'wss:';
  const security = linkSecurity(url, link);
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (tls ? 443 : 80),
      path: DATA_PATH,
      agent: false,
      timeout: DIAL_TIMEOUT_MS,
      headers: {
        Connection: 'Upgrade',
        Upgrade: DATA_UPGRADE,
        [DATA_HEADERS.session]: dial.session,
        [DATA_HEADERS.conn]: String(dial.conn),
        [DATA_HEADERS.secret]: Buffer.from(dial.secret).toString('base64url'),
        [DATA_HEADERS.received]: String(dial.received),
      },
      ...(security.clientOptions as object),
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      try {
        security.verify(res);
      } catch (err) {
        socket.destroy();
        return reject(err as Error);
      }
      const peerReceived = countHeader(res.headers[DATA_HEADERS.received]);
      if (peerReceived === undefined) {
        socket.destroy();
        return reject(new Error('the location answered the data connection without its byte count'));
      }
      socket.setTimeout(0);
      socket.setKeepAlive(true, 10_000);
      if (head.length) socket.unshift(head);
      resolve({ socket, peerReceived });
    });
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`the location refused the data connection (HTTP ${res.statusCode})`));
    });
    req.on('timeout', () => req.destroy(new Error('the data connection did not open in time')));
    req.on('error', reject);
    req.end();
  });
}
