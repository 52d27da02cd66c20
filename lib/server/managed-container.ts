/**
 * One container as the location runs it: created, attached, started and watched on its node's
 * engine, reporting every status change and every byte of output through `events`.
 */
import type { Attachment, ContainerSpec } from '../engines/engine';
import {
  BadRequest, ContainerNotRunning, NodeGone, SpawnFailed, TfnzError, errorToWire,
  type ContainerInfo, type ContainerStatus, type Events, type OutputStream,
} from '../protocol';
import type { PoolNode } from './node-pool';
import { ManagedProcess, type ProcessEvents, type ProcessSpec } from './managed-process';
import type { Transfer } from './file-transfer';
import { LogHistory, type LogHistoryLimits } from './log-history';

export interface ContainerEvents {
  status(params: Events['container_status']): void;
  output(stream: OutputStream, data: Buffer): void;
  /** Runs just before the engine first starts it (the packet filter is listed meanwhile). */
  starting?(): void;
  /** Runs once the container has its private IP and before `running` is reported (packet filter set-up). */
  beforeRunning?(privateIp: string | undefined): Promise<void>;
  /**
   * Its main process is dead and it is being destroyed: what guarded it (packet filter rules) can
   * go now, alongside the rest of the engine's removal, instead of after it.
   */
  dead?(): Promise<void>;
}

/** How long to wait for the output stream to drain after the main process ended. */
const OUTPUT_DRAIN_MS = 5000;

export class ManagedContainer {
  status: ContainerStatus = 'spawning';
  /** #20: when it was asked for (ms since the epoch), for tfnz ps. */
  readonly created = Date.now();
  sleeping: boolean;
  privateIp?: string;
  exitCode?: number;
  private engineId?: string;
  private attachment?: Attachment;
  private spawning?: Promise<void>;
  private exited?: Promise<void>;
  /** Resolves when the engine says the main process ended (before its output drained); never rejects. */
  private processEnded?: Promise<void>;
  private destroyRequested = false;
  /** Processes started inside it for the session, by id; they end when it stops. */
  readonly processes = new Map<string, ManagedProcess>();
  /** File transfers in progress, by id. */
  readonly transfers = new Map<string, Transfer>();
  private outputPaused = false;
  private rebooting?: Promise<void>;
  private destroying?: Promise<void>;
  /** Called once when the main process ends or the container goes (#16: stats watches stop). */
  private readonly stopListeners = new Set<() => void>();
  /** Its main process's output, kept while it exists (#16). */
  readonly logs: LogHistory;

  constructor(
    readonly id: string,
    readonly node: PoolNode,
    private readonly spec: ContainerSpec,
    readonly tag: string | undefined,
    private readonly events: ContainerEvents,
    /** Written after create, before start; again when a reboot resets the file system. */
    private readonly preBootFiles: [string, Uint8Array][] = [],
    logLimits?: LogHistoryLimits,
  ) {
    this.sleeping = spec.sleep;
    this.logs = new LogHistory(logLimits);
  }

  /** The labels it was created with (its user's among them). */
  get labels(): Readonly<Record<string, string>> {
    return this.spec.labels;
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
      const engineId = (this.engineId = await engine.create(this.spec));
      // Both only need it created, not started: at once.
      [, this.attachment] = await Promise.all([
        this.writePreBootFiles(engineId),
        engine.attach(engineId, this.spec.stdin, (stream, data) => this.output(stream, data)),
      ]);
      if (this.destroyRequested) throw new SpawnFailed('destroyed while spawning');
      this.events.starting?.();
      // Closed to other containers while the engine starts it, when the engine says its address
      // early; otherwise once started, as before. Engines that hold grants inside the container's
      // own network namespace (swarm nodes) need it running first.
      const early = engine.startWithAddress && !engine.holdConnections
        ? await engine.startWithAddress(engineId, async (ip) => {
            this.privateIp = ip;
            await this.events.beforeRunning?.(ip);
          })
        : await engine.start(engineId);
      if (early === undefined) {
        this.privateIp = await engine.privateIp(engineId);
        await this.events.beforeRunning?.(this.privateIp);
      }
    } catch (err) {
      if (this.engineId) await engine.remove(this.engineId).catch(() => undefined);
      // Whatever guarded it goes too (a packet filter rule or listing made for it before the failure).
      await this.events.dead?.().catch(() => undefined);
      this.status = 'destroyed';
      this.logs.flush();
      throw withLastLines(err instanceof TfnzError ? err : new SpawnFailed(`could not start '${this.spec.image}': ${(err as Error).message}`), this.logs);
    }
    this.status = 'running';
    this.events.status({ container: this.id, status: 'running', sleeping: this.sleeping, privateIp: this.privateIp });
    this.exited = this.watchExit(this.engineId, this.attachment);
  }

  /** Call `fn` once when the main process ends or the container goes; returns a function that cancels it. */
  whenStopped(fn: () => void): () => void {
    this.stopListeners.add(fn);
    return () => this.stopListeners.delete(fn);
  }

  private stopped(): void {
    const all = [...this.stopListeners];
    this.stopListeners.clear();
    for (const fn of all) fn();
  }

  /** Output is kept (log history) before it goes to the session. */
  private output(stream: OutputStream, data: Buffer): void {
    this.logs.append(stream, data);
    this.events.output(stream, data);
  }

  /** Wake a container spawned asleep. */
  async start(): Promise<void> {
    if (!this.sleeping || !this.engineId) return;
    await this.node.engine.wake(this.engineId);
    this.sleeping = false;
    this.events.status({ container: this.id, status: this.status, sleeping: false, privateIp: this.privateIp });
  }

  writeStdin(data: Uint8Array): void {
    // Found by the fuzzer: without stdin the attachment is read-only, and writing threw a TypeError.
    if (!this.spec.stdin) throw new BadRequest(`container ${this.id} was spawned without stdin; spawn it with { stdin: true } to write to it`);
    this.attachment?.write(data);
  }

  pauseOutput(): void {
    this.outputPaused = true;
    this.attachment?.pause();
    for (const p of this.processes.values()) p.pause();
    for (const t of this.transfers.values()) t.pause();
  }

  resumeOutput(): void {
    this.outputPaused = false;
    this.attachment?.resume();
    for (const p of this.processes.values()) p.resume();
    for (const t of this.transfers.values()) t.resume();
  }

  /** The engine's id of the running container, or ContainerNotRunning. */
  runningEngineId(doing: string): string {
    if (this.status !== 'running' || !this.engineId) {
      throw new ContainerNotRunning(`container ${this.id} is ${this.status}; ${doing} needs it running (await ready() first)`);
    }
    return this.engineId;
  }

  /** The engine's id whenever the container exists (files can be read and written while it is stopped). */
  existingEngineId(): string {
    if (!this.engineId || this.status === 'destroyed' || this.rebooting) {
      throw new ContainerNotRunning(`container ${this.id} is ${this.rebooting ? 'rebooting' : this.status}`);
    }
    return this.engineId;
  }

  async spawnProcess(id: string, spec: ProcessSpec, events: ProcessEvents): Promise<ManagedProcess> {
    const engineId = this.runningEngineId('starting a process');
    const process = await ManagedProcess.start(id, this.node.engine, engineId, spec, events, this.outputPaused);
    this.processes.set(id, process);
    void process.ended.then(() => this.processes.delete(id));
    return process;
  }

  addTransfer(transfer: Transfer): void {
    this.transfers.set(transfer.id, transfer);
    if (this.outputPaused) transfer.pause();
  }

  /**
   * Restart in place: same id, tunnels and labels. Without `resetFilesystem` the engine container
   * is killed and started again, so its files stay. With it, the engine container is removed and
   * created afresh from the same image and pre-boot files: simpler and more robust than committing
   * an image at first boot (no images to track and clean up), and it is exactly the state it
   * first booted in. Injected processes end either way.
   */
  reboot(resetFilesystem: boolean): Promise<void> {
    if (this.rebooting) throw new ContainerNotRunning(`container ${this.id} is already rebooting`);
    if ((this.status !== 'running' && this.status !== 'exited') || !this.engineId || this.destroyRequested) {
      throw new ContainerNotRunning(`container ${this.id} is ${this.status}; only a running or exited container can reboot`);
    }
    this.rebooting = this.doReboot(this.engineId, resetFilesystem).finally(() => (this.rebooting = undefined));
    return this.rebooting;
  }

  private async doReboot(oldId: string, resetFilesystem: boolean): Promise<void> {
    const engine = this.node.engine;
    // Not 'running' any more: watchExit sees that and does not report the kill as an exit.
    this.status = 'spawning';
    this.events.status({ container: this.id, status: 'spawning', privateIp: this.privateIp });
    const processes = [...this.processes.values()];
    for (const p of processes) p.markKilled();
    this.cancelTransfers('rebooted');
    try {
      if (resetFilesystem) await engine.remove(oldId);
      else await engine.kill(oldId);
      await this.exited;
      await Promise.all(processes.map((p) => p.ended));
      if (resetFilesystem) {
        this.engineId = await engine.create(this.spec);
        await this.writePreBootFiles(this.engineId);
      }
      const engineId = this.engineId!;
      this.attachment = await engine.attach(engineId, this.spec.stdin, (stream, data) => this.output(stream, data));
      if (this.outputPaused) this.attachment.pause();
      await engine.start(engineId);
      // A container that was woken boots straight into its real command again.
      if (this.spec.sleep && !this.sleeping) await engine.wake(engineId);
      this.privateIp = await engine.privateIp(engineId);
      await this.events.beforeRunning?.(this.privateIp);
    } catch (err) {
      if (this.engineId) await engine.remove(this.engineId).catch(() => undefined);
      this.status = 'destroyed';
      const error = err instanceof TfnzError ? err : new SpawnFailed(`could not reboot: ${(err as Error).message}`);
      this.events.status({ container: this.id, status: 'destroyed', error: errorToWire(error) });
      throw error;
    }
    this.exitCode = undefined;
    this.status = 'running';
    this.events.status({ container: this.id, status: 'running', sleeping: this.sleeping, privateIp: this.privateIp });
    this.exited = this.watchExit(this.engineId!, this.attachment);
  }

  /** A transfer waiting for credit would never notice the container went: end it with the reason. */
  private cancelTransfers(what: string): void {
    const error = errorToWire(new ContainerNotRunning(`container ${this.id} was ${what} during the transfer`));
    for (const t of [...this.transfers.values()]) t.cancel(error);
  }

  private async writePreBootFiles(engineId: string): Promise<void> {
    for (const [path, data] of this.preBootFiles) {
      const sink = await this.node.engine.writeFile(engineId, path, data.length);
      if (data.length > 0) await sink.write(data);
      await sink.finish();
    }
  }

  /** Its node went away (node-pool.ts): report it destroyed with NodeGone; the engine cannot be asked. */
  nodeGone(reason: string): void {
    if (this.status === 'destroyed') return;
    this.destroyRequested = true;
    this.status = 'destroyed';
    const gone = errorToWire(new NodeGone(reason));
    for (const p of this.processes.values()) p.markKilled(gone);
    for (const t of this.transfers.values()) t.cancel(gone);
    this.logs.close();
    this.stopped();
    this.events.status({ container: this.id, status: 'destroyed', exitCode: this.exitCode, error: gone });
  }

  /**
   * #20 tfnz stop: kill the main process (SIGKILL); the container stays, exited, until destroyed.
   * Resolves once `exited` was reported (at once when it was not running).
   */
  async stop(): Promise<void> {
    await this.spawning?.catch(() => undefined);
    if (this.status !== 'running' || !this.engineId) return;
    const exited = new Promise<void>((resolve) => this.whenStopped(resolve));
    await this.node.engine.kill(this.engineId);
    await exited;
  }

  /**
   * Kill and remove; resolves once the engine no longer has it and `destroyed` was sent. Callers
   * that come while it is under way share the one destruction, so `destroyed` is reported once.
   */
  destroy(): Promise<void> {
    if (this.status === 'destroyed' && !this.destroying) return Promise.resolve();
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    this.destroyRequested = true;
    await this.spawning?.catch(() => undefined);
    await this.rebooting?.catch(() => undefined);
    if ((this.status as ContainerStatus) === 'destroyed') return; // spawning failed and cleaned up after itself
    const processes = [...this.processes.values()];
    for (const p of processes) p.markKilled();
    this.cancelTransfers('destroyed');
    if (this.engineId) {
      const removed = this.node.engine.remove(this.engineId);
      // The process dies early in a removal; the engine then still tears down its network and files.
      const dead = this.processEnded ? Promise.race([this.processEnded, removed]) : removed;
      void dead.then(() => this.events.dead?.(), () => undefined).catch(() => undefined);
      await removed;
    }
    await this.exited;
    // Children first: each process reports its end before the container reports `destroyed`.
    await Promise.race([Promise.all(processes.map((p) => p.ended)), new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]);
    this.status = 'destroyed';
    this.logs.close();
    this.stopped();
    this.events.status({ container: this.id, status: 'destroyed', exitCode: this.exitCode });
  }

  /** Report the exit only after all output went out, so stdout$ is complete when it ends. */
  /**
   * Wait for the output stream to end, so the exit is reported after the last byte. The stream may
   * never end (an engine quirk), so give up after OUTPUT_DRAIN_MS — but only counting time in which
   * output may flow: while the session holds it (congested, or its client away), keep waiting.
   */
  private async drained(ended: Promise<void>): Promise<void> {
    let done = false;
    void ended.then(() => (done = true));
    for (;;) {
      await Promise.race([ended, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]);
      if (done || !this.outputPaused || this.destroyRequested) return;
    }
  }

  private async watchExit(engineId: string, attachment: Attachment): Promise<void> {
    const waiting = this.node.engine.wait(engineId);
    // A failed wait proves nothing about the process: then only the removal's end counts (doDestroy).
    this.processEnded = waiting.then(() => undefined, () => new Promise<void>(() => undefined));
    const code = await waiting.catch(() => undefined);
    // No exit code: maybe the whole engine went away. Then the pool reports it (nodeGone), not us.
    if (code === undefined && !(await this.node.checkAlive())) return;
    await this.drained(attachment.ended);
    this.logs.flush();
    this.stopped();
    this.exitCode = code;
    if (this.destroyRequested || this.status !== 'running') return;
    this.status = 'exited';
    this.events.status({
      container: this.id, status: 'exited', exitCode: code,
      error: code === undefined ? errorToWire(new SpawnFailed('the engine lost track of this container')) : undefined,
    });
  }
}

/** Lines of output a failing start's error carries (#16). */
const ERROR_LINES = 20;

/** The error, its message followed by the container's last output lines when there are any. */
function withLastLines(err: TfnzError, logs: LogHistory): TfnzError {
  const last = logs.lastLines(ERROR_LINES);
  if (last.length === 0) return err;
  err.message += `\nlast output:\n${last.join('\n')}`;
  return err;
}
