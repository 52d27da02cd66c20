/**
 * What the SDK's thread and the direct relay's thread (direct-relay.ts) say to each other about
 * one tunnel, named by its id.
 */

/** The container as the relay thread needs it for its next connect attempt. */
export interface RelayTarget {
  id: string;
  status: string;
  privateIp?: string;
}

/** SDK thread -> relay thread. */
export type ToRelay =
  | { op: 'listen'; tunnel: string; bind: string; localPort: number; port: number; timeoutMs: number; target: RelayTarget }
  | { op: 'target'; tunnel: string; target: RelayTarget }
  | { op: 'close'; tunnel: string };

/** Relay thread -> SDK thread. */
export type FromRelay =
  | { op: 'listening'; tunnel: string; localPort: number }
  | { op: 'listen_failed'; tunnel: string; code?: string; message: string }
  /** One accepted connection never reached the container; `lastError` says why. */
  | { op: 'connect_failed'; tunnel: string; lastError: string }
  /** A connection reached the container at `ip`: the first since the tunnel opened or its target last changed. */
  | { op: 'connected'; tunnel: string; ip: string }
  | { op: 'closed'; tunnel: string };
