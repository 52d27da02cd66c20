/**
 * The envelope every WebSocket frame carries. One msgpack array per frame:
 *   [0, id, command, params, bulk?]   request (id > 0) or one-way message (id = 0), client → location
 *   [1, id, error, result, bulk?]     reply to request `id`; `error` is null on success
 *   [2, seq, event, params, bulk?]    event, location → client, `seq` counts up per session
 * Bulk bytes ride beside the params so binary data is never re-encoded inside them.
 */
import type { ErrorBody } from './errors';

export interface RequestFrame {
  kind: 'request';
  /** Correlation id; 0 for a one-way message that wants no reply. */
  id: number;
  command: string;
  params: unknown;
  bulk?: Uint8Array;
}

export interface ReplyFrame {
  kind: 'reply';
  id: number;
  error?: ErrorBody;
  result?: unknown;
  bulk?: Uint8Array;
}

export interface EventFrame {
  kind: 'event';
  seq: number;
  event: string;
  params: unknown;
  bulk?: Uint8Array;
}

export type Frame = RequestFrame | ReplyFrame | EventFrame;

export const FRAME_REQUEST = 0;
export const FRAME_REPLY = 1;
export const FRAME_EVENT = 2;
