/**
 * Liveness for a WebSocket, used by both ends: a peer that vanished without closing (a cable
 * pulled, a frozen NAT) sends no FIN, so without this a session would wait forever. Each side pings
 * every `intervalMs`; a socket with no pong since the previous ping is terminated, which the usual
 * close handling then treats as a dropped connection (resume on the client, grace on the location).
 */
import type { WebSocket } from 'ws';

export const HEARTBEAT_MS = 10_000;

export function keepAlive(ws: WebSocket, intervalMs = HEARTBEAT_MS): void {
  let answered = true;
  ws.on('pong', () => (answered = true));
  const timer = setInterval(() => {
    if (!answered) return void ws.terminate();
    answered = false;
    ws.ping();
  }, intervalMs);
  timer.unref();
  ws.on('close', () => clearInterval(timer));
}
