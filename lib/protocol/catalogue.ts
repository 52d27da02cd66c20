/**
 * The one contract: every request, one-way message and event, declared once with its parameter
 * and reply types. Client and server both import it, so a renamed field fails to compile.
 */
import type { ContainerInfo, ContainerStatus, NodeInfo, NodeStats, OutputStream, ResourceOffer } from './types';
import type { ErrorBody } from './errors';

/** Requests: client → location, each answered by exactly one reply. */
export interface Commands {
  /** First request on a socket. The reply names the session; a `resource_offer` event follows. */
  open_session: {
    params: { client: string; user?: string };
    result: { session: string; user: string; location: string };
  };
  /** End the session: replies once everything it made (but volumes) is gone. */
  close_session: { params: Record<string, never>; result: Record<string, never> };
  /** Create and start a container. Replies once the engine accepted it; status events follow. */
  spawn_container: {
    params: {
      container: string;
      node: string;
      image: string;
      env?: [string, string][];
      command?: string[];
      sleep?: boolean;
      tag?: string;
      stdin?: boolean;
    };
    result: Record<string, never>;
  };
  /** Wake a container spawned with `sleep: true`. */
  start_container: { params: { container: string }; result: Record<string, never> };
  destroy_container: { params: { container: string }; result: Record<string, never> };
  create_tunnel: {
    params: { tunnel: string; container: string; port: number; timeout: number };
    result: Record<string, never>;
  };
  destroy_tunnel: { params: { tunnel: string }; result: Record<string, never> };
}

/** One-way messages: client → location, no reply; failures come back as an `error` event. */
export interface Messages {
  /** A local TCP connection was accepted: open one to the container's port. */
  tunnel_open: { tunnel: string; conn: number };
  /** Bytes for an open tunnel connection (bulk). */
  tunnel_data: { conn: number };
  /** The receiver wrote `bytes` to its socket: the sender may send that much more. */
  tunnel_ack: { conn: number; bytes: number };
  /** The sender will send no more (TCP half-close). */
  tunnel_end: { conn: number };
  /** Tear the connection down in both directions. */
  tunnel_close: { conn: number };
  /** Bytes for a container's main process (bulk). */
  container_stdin: { container: string };
}

/** Events: location → client, numbered per session. */
export interface Events {
  resource_offer: ResourceOffer;
  node_created: { node: NodeInfo };
  node_destroyed: { node: string };
  node_stats: { node: string; stats: NodeStats };
  container_status: {
    container: string;
    status: ContainerStatus;
    sleeping?: boolean;
    privateIp?: string;
    exitCode?: number;
    error?: ErrorBody;
  };
  /** Bytes from a container's main process (bulk). */
  container_output: { container: string; stream: OutputStream };
  tunnel_data: { conn: number };
  tunnel_ack: { conn: number; bytes: number };
  tunnel_end: { conn: number };
  tunnel_close: { conn: number; error?: ErrorBody };
  /** A one-way message failed; there was no request to reply to. */
  error: { error: ErrorBody; about?: string };
}

export type CommandName = keyof Commands;
export type MessageName = keyof Messages;
export type EventName = keyof Events;
export type ParamsOf<C extends CommandName> = Commands[C]['params'];
export type ResultOf<C extends CommandName> = Commands[C]['result'];

/** An event as the client sees it once decoded. */
export type EventOf<E extends EventName = EventName> = {
  [K in E]: { event: K; seq: number; params: Events[K]; bulk?: Uint8Array };
}[E];

export type { ContainerInfo };
