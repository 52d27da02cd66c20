/**
 * One process the location started inside a container for a session: its output and its single
 * exit report. The container owns it and ends it when the container stops (destroy, reboot).
 */
import type { Engine, ExecHandle } from '../engines/engine';
import { EngineError, errorToWire, type ErrorBody, type Events, type OutputStream } from '../protocol';

export interface ProcessEvents {
  output(stream: OutputStream, data: Buffer): void;
  exit(params: Events['process_exit']): void;
}

export interface ProcessSpec {
  /** Run through `sh -c`; absent (with `tty`) means an interactive login shell. */
  command?: string;
  tty: boolean;
  echo: boolean;
  env: [string, string][];
  /** #16 */
  user?: string;
  workdir?: string;
  /** The pty's size from the start (with `tty`), so a program that asks at once sees it. */
  size?: { cols: number; rows: number };
}

/** Reported for a process the location killed when the engine cannot say how it ended. */
const KILLED = 137;
const KILL_WAIT_MS = 10_000;

/**
 * A login shell: the first of bash, ash, sh found. With a pty, `stty -echo` first unless echo was
 * asked for, so a program driving the shell reads only the shell's output.
 */
const READY = '\x1b]tfnz-ready\x07';
const TTY_SETUP = `[ "$1" = noecho ] && stty -echo 2>/dev/null; [ -n "$3" ] && stty $3 2>/dev/null; printf '\\033]tfnz-ready\\007';`;
const SHELL = `${TTY_SETUP} for s in /bin/bash /bin/ash /bin/sh; do [ -x "$s" ] && exec "$s" -l; done; exec sh -l`;
const TTY_COMMAND = `${TTY_SETUP} exec /bin/sh -c "$2"`;
/** How long a pty process may take to print READY before it is used anyway. */
const READY_WAIT_MS = 10_000;

export class ManagedProcess {
  /** Resolves once `process_exit` has been sent. */
  readonly ended: Promise<void>;
  private killed = false;
  private withContainer = false;
  private exitError?: ErrorBody;

  private constructor(
    readonly id: string,
    private readonly handle: ExecHandle,
    events: ProcessEvents,
  ) {
    this.ended = handle.exited.then((code) => {
      // Killed with its container, the engine's code says nothing useful (Docker reports 126).
      const exitCode = this.withContainer ? KILLED : code ?? (this.killed ? KILLED : undefined);
      const error = this.exitError ?? (exitCode === undefined ? errorToWire(new EngineError('the engine did not report how the process ended')) : undefined);
      events.exit({ process: id, exitCode, error });
    });
  }

  static async start(id: string, engine: Engine, engineId: string, spec: ProcessSpec, events: ProcessEvents, paused: boolean): Promise<ManagedProcess> {
    const echo = spec.echo ? 'echo' : 'noecho';
    // (the size is two checked integers: safe to split into stty's arguments)
    const size = spec.size ? `cols ${spec.size.cols} rows ${spec.size.rows}` : '';
    const command = spec.command === undefined
      ? ['/bin/sh', '-c', SHELL, 'tfnz-shell', echo, '', size]
      : spec.tty
        ? ['/bin/sh', '-c', TTY_COMMAND, 'tfnz-process', echo, spec.command, size]
        : ['/bin/sh', '-c', spec.command];
    // A pty echoes what arrives before `stty -echo` ran: hold the reply (so the client sends no input)
    // until the set-up printed READY, and hide READY itself.
    let setup = spec.tty ? '' : undefined;
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const handle = await engine.exec(engineId, { command, tty: spec.tty, env: spec.env, user: spec.user, workdir: spec.workdir }, (stream, data) => {
      if (setup === undefined) return events.output(stream, data);
      setup += data.toString('latin1');
      const at = setup.indexOf(READY);
      if (at < 0) return;
      const rest = Buffer.from(setup.slice(0, at) + setup.slice(at + READY.length), 'latin1');
      setup = undefined;
      ready();
      if (rest.length > 0) events.output(stream, rest);
    });
    if (spec.tty) {
      const timer = setTimeout(ready, READY_WAIT_MS);
      await Promise.race([isReady, handle.exited]);
      clearTimeout(timer);
    }
    if (paused) handle.pause();
    return new ManagedProcess(id, handle, events);
  }

  write(data: Uint8Array): void {
    this.handle.write(data);
  }
  endStdin(): void {
    this.handle.endStdin();
  }
  resize(cols: number, rows: number): Promise<void> {
    return this.handle.resize(cols, rows);
  }
  pause(): void {
    this.handle.pause();
  }
  resume(): void {
    this.handle.resume();
  }

  /** Kill it and its children; resolves once its exit was reported. */
  async destroy(): Promise<void> {
    this.killed = true;
    await this.handle.kill().catch(() => undefined);
    const stuck = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), KILL_WAIT_MS).unref());
    if ((await Promise.race([this.ended, stuck])) === 'stuck') {
      throw new EngineError(`process ${this.id} did not end within ${KILL_WAIT_MS / 1000}s of being killed (does the image have /bin/sh, tr and grep?)`);
    }
  }

  /** The container is going away (or rebooting): whatever ends the stream, report it as killed. */
  markKilled(error?: ErrorBody): void {
    this.killed = true;
    this.withContainer = true;
    this.exitError ??= error;
  }
}
