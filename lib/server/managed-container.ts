/**
 * One container as the location runs it: created, attached, started and watched on its node's
 * engine, reporting every status change and every byte of output through `events`.
 */
import type { Attachment, ContainerSpec } from '../engines/engine';
import {
  SpawnFailed, TfnzError, errorToWire,
  type ContainerInfo, type ContainerStatus, type Events, type OutputStream,
} from '../protocol';
import type { PoolNode } from './node-pool';

export interface ContainerEvents {
  status(params: Events['container_status']): void;
  output(stream: OutputStream, data: Buffer): void;
}

/** How long to wait for the output stream to drain after the main process ended. */
const OUTPUT_DRAIN_MS = 5000;

export class ManagedContainer {
  status: ContainerStatus = 'spawning';
  sleeping: boolean;
  privateIp?: string;
  exitCode?: number;
  private engineId?: string;
  private attachment?: Attachment;
  private spawning?: Promise<void>;
  private exited?: Promise<void>;
  private destroyRequested = false;

  constructor(
    readonly id: string,
    readonly node: PoolNode,
    private readonly spec: ContainerSpec,
    readonly tag: string | undefined,
    private readonly events: ContainerEvents,
  ) {
    this.sleeping = spec.sleep;
  }

  get image(): string {
    return this.spec.image;
  }

  info(): ContainerInfo {
    return {
      id: this.id, node: this.node.info.id, image: this.spec.image, tag: this.tag, status: this.status,
      sleeping: this.sleeping, privateIp: this.privateIp, exitCode: this.exitCode,
    };
  }

  /** Create, attach and start; resolves once running (the `running` event is already sent). */
  spawn(): Promise<void> {
    this.spawning ??= this.doSpawn();
    return this.spawning;
  }

  private async doSpawn(): Promise<void> {
    const engine = this.node.engine;
    try {
      this.engineId = await engine.create(this.spec);
      this.attachment = await engine.attach(this.engineId, this.spec.stdin, (stream, data) => this.events.output(stream, data));
      if (this.destroyRequested) throw new SpawnFailed('destroyed while spawning');
      await engine.start(this.engineId);
      this.privateIp = await engine.privateIp(this.engineId);
    } catch (err) {
      if (this.engineId) await engine.remove(this.engineId).catch(() => undefined);
      this.status = 'destroyed';
      throw err instanceof TfnzError ? err : new SpawnFailed(`could not start '${this.spec.image}': ${(err as Error).message}`);
    }
    this.status = 'running';
    this.events.status({ container: this.id, status: 'running', sleeping: this.sleeping, privateIp: this.privateIp });
    this.exited = this.watchExit(this.engineId, this.attachment);
  }

  /** Wake a container spawned asleep. */
  async start(): Promise<void> {
    if (!this.sleeping || !this.engineId) return;
    await this.node.engine.wake(this.engineId);
    this.sleeping = false;
    this.events.status({ container: this.id, status: this.status, sleeping: false, privateIp: this.privateIp });
  }

  writeStdin(data: Uint8Array): void {
    this.attachment?.write(data);
  }

  pauseOutput(): void {
    this.attachment?.pause();
  }

  resumeOutput(): void {
    this.attachment?.resume();
  }

  /** Kill and remove; resolves once the engine no longer has it and `destroyed` was sent. */
  async destroy(): Promise<void> {
    if (this.status === 'destroyed') return;
    this.destroyRequested = true;
    await this.spawning?.catch(() => undefined);
    if ((this.status as ContainerStatus) === 'destroyed') return; // spawning failed and cleaned up after itself
    if (this.engineId) await this.node.engine.remove(this.engineId);
    await this.exited;
    this.status = 'destroyed';
    this.events.status({ container: this.id, status: 'destroyed', exitCode: this.exitCode });
  }

  /** Report the exit only after all output went out, so stdout$ is complete when it ends. */
  private async watchExit(engineId: string, attachment: Attachment): Promise<void> {
    const code = await this.node.engine.wait(engineId).catch(() => undefined);
    await Promise.race([attachment.ended, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]);
    this.exitCode = code;
    if (this.destroyRequested || this.status !== 'running') return;
    this.status = 'exited';
    this.events.status({
      container: this.id, status: 'exited', exitCode: code,
      error: code === undefined ? errorToWire(new SpawnFailed('the engine lost track of this container')) : undefined,
    });
  }
}
