/**
 * The WebSocket client class of `ws`, without its server. The package's main module also loads
 * WebSocketServer, which a program that only talks to a location never uses; `ws` exports no
 * subpath for the client alone, so its file is required by path, next to the resolved main
 * module. Should a future `ws` move that file, the whole package is loaded instead.
 * (Node 20 has no unflagged global WebSocket, and ws gives us ping, handshake timeouts and Buffers.)
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type WsWebSocket from 'ws';

const require = createRequire(import.meta.url);

function loadClient(): typeof WsWebSocket {
  try {
    return require(join(dirname(require.resolve('ws')), 'lib', 'websocket.js')) as typeof WsWebSocket;
  } catch {
    return require('ws') as typeof WsWebSocket;
  }
}

export const WebSocket = loadClient();
export type WebSocket = WsWebSocket;
