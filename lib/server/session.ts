/**
 * One client session on one WebSocket: decodes frames, runs commands, sends numbered events, and
 * when it ends collects everything it made (containers, tunnels) — never volumes.
 * A bad frame or a failing command gets an error reply or event; it never ends the session.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { nanoid } from 'nanoid';
import {
  BadRequest, ProtocolError, UnknownCommand, errorToWire, decodeFrame, encodeFrame,
  type CommandName, type Commands, type EventName, type Events, type Frame, type MessageName,
} from '../protocol';
import { asObject } from '../protocol/validate';
import type { ManagedContainer } from './managed-container';
import { TunnelRelay } from './tunnel-relay';
import { commandHandlers, messageHandlers } from './handlers';
import type { LocationContext } from './location-context';

/** Bytes queued on the socket above which producers (stdout, tunnels) pause. */
const CONGESTED_BYTES = 8 * 1024 * 1024;

export class Session {
  readonly id = nanoid();
  user = '';
  opened = false;
  readonly containers = new Map<string, ManagedContainer>();
  readonly tunnels: TunnelRelay;
  private seq = 0;
  private congested = false;
  private ending?: Promise<void>;

  constructor(
    readonly ctx: LocationContext,
    private readonly ws: WebSocket,
    private readonly socket: Socket,
  ) {
    this.tunnels = new TunnelRelay((event, params, bulk) => this.emit(event, params, bulk));
    ws.on('message', (data: Buffer) => void this.onFrame(data));
    socket.on('drain', () => this.updateCongestion());
  }

  emit<E extends EventName>(event: E, params: Events[E], bulk?: Uint8Array): void {
    this.sendFrame({ kind: 'event', seq: ++this.seq, event, params, bulk });
  }

  /** Ends the session and collects what it made; idempotent. */
  end(): Promise<void> {
    this.ending ??= this.collectGarbage();
    return this.ending;
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  private async collectGarbage(): Promise<void> {
    this.tunnels.closeAll();
    await Promise.all([...this.containers.values()].map((c) => c.destroy().catch(() => undefined)));
    this.containers.clear();
    this.ctx.forget(this);
  }

  private async onFrame(data: Buffer): Promise<void> {
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      this.emit('error', { error: errorToWire(err) });
      return;
    }
    if (frame.kind !== 'request') {
      this.emit('error', { error: errorToWire(new ProtocolError(`clients send requests, not ${frame.kind} frames`)) });
      return;
    }
    if (frame.id === 0) return this.onMessage(frame.command, frame.params, frame.bulk);
    try {
      const result = await this.runCommand(frame.command, frame.params);
      this.sendFrame({ kind: 'reply', id: frame.id, result });
    } catch (err) {
      this.sendFrame({ kind: 'reply', id: frame.id, error: errorToWire(err) });
    }
  }

  private async runCommand(command: string, rawParams: unknown): Promise<unknown> {
    if (!Object.hasOwn(commandHandlers, command)) throw new UnknownCommand(`unknown command '${command}'`);
    if (this.ended) throw new BadRequest('this session has ended');
    if (!this.opened && command !== 'open_session') throw new BadRequest('send open_session first');
    const handler = commandHandlers[command as CommandName] as (s: Session, p: Record<string, unknown>) => Promise<Commands[CommandName]['result']>;
    return handler(this, asObject(rawParams));
  }

  private onMessage(name: string, rawParams: unknown, bulk: Uint8Array | undefined): void {
    try {
      if (!Object.hasOwn(messageHandlers, name)) throw new UnknownCommand(`unknown message '${name}'`);
      if (!this.opened) throw new BadRequest('send open_session first');
      messageHandlers[name as MessageName](this, asObject(rawParams), bulk ?? new Uint8Array(0));
    } catch (err) {
      this.emit('error', { error: errorToWire(err), about: name });
    }
  }

  private sendFrame(frame: Frame): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeFrame(frame));
    if (!this.congested && this.ws.bufferedAmount > CONGESTED_BYTES) this.updateCongestion();
  }

  /** Pause every producer while the socket is backed up; resume when it drains. */
  private updateCongestion(): void {
    const congested = this.ws.bufferedAmount > CONGESTED_BYTES;
    if (congested === this.congested) return;
    this.congested = congested;
    this.tunnels.setCongested(congested);
    for (const c of this.containers.values()) congested ? c.pauseOutput() : c.resumeOutput();
  }
}
