/**
 * The handshake of a tunnel's data connection (data-pipe.ts), shared by both ends: an HTTP/1.1
 * Upgrade on the location's own port (so TLS, firewalls and proxies treat it as the session's
 * socket, and no port is added), with a protocol token that is not `websocket`. The request names
 * the session and connection and carries the single-use secret tunnel_link handed out, plus how many
 * bytes the SDK has received; a 101 answer carries how many the location has. Raw bytes follow.
 */
export const DATA_UPGRADE = 'tfnz-tunnel';
export const DATA_PATH = '/tfnz/tunnel';

/** Header names, lower case as Node reports them. */
export const DATA_HEADERS = {
  session: 'tfnz-session',
  conn: 'tfnz-conn',
  secret: 'tfnz-secret',
  received: 'tfnz-received',
} as const;

/** A byte count from a header: a non-negative safe integer in decimal, else undefined. */
export function countHeader(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}
