/**
 * `iptables` on this machine, run by long-lived shells instead of a fork of this process per run.
 *
 * Why: forking copies the forking process's page tables, and child_process forks on the event
 * loop's thread. From a Node process holding a location and its sessions (hundreds of MiB) one
 * fork costs more than `iptables` itself (measured: `true` took 9 ms from a small Node process and
 * 37 ms from one holding 400 MiB; `iptables -A` itself ~3 ms), and the location adds a rule on every
 * spawn, between "started" and "running". A shell is forked once; each run is a line on its stdin,
 * and the shell forks `iptables` from its own few hundred KiB.
 *
 * Protocol (one command at a time per shell): arguments joined by US (0x1f) on one line in; the
 * combined output, a newline, SOH (0x01) and the exit code on a line out. Arguments holding a
 * newline, US or SOH cannot be framed and go to a plain fork instead. Shells end when this process
 * does (their stdin closes), and do not keep it alive while idle.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { promisify } from 'node:util';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { localIptables, type IptablesRunner } from './iptables';

const run = promisify(execFile);

/** Most shells at once: the location lists the table while it appends (two at once), rarely more. */
const MAX_SHELLS = 3;

const US = '\x1f';
const SOH = '\x01';
/** The shell's loop; `$0` is the command to run (`iptables -w`). */
const SCRIPT = [
  `us=$(printf '\\037')`,
  'set -f',
  'while IFS= read -r line; do',
  '  IFS=$us; set -- $line; unset IFS',
  '  out=$("$0" -w "$@" 2>&1); rc=$?',
  `  printf '%s\\n\\001%d\\n' "$out" "$rc"`,
  'done',
].join('\n');

interface Pending {
  resolve(stdout: string): void;
  reject(err: Error): void;
}

/** One shell, answering its commands in order. */
class IptablesShell {
  readonly pending: Pending[] = [];
  private buffered = '';
  private closed = false;
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;

  constructor(command: string, private readonly onGone: (shell: IptablesShell) => void) {
    this.child = spawn('sh', ['-c', SCRIPT, command], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.receive(chunk));
    this.child.on('error', (err) => this.close(err));
    this.child.on('exit', (code) => this.close(new Error(`the iptables shell exited (${code})`)));
    this.child.stdin.on('error', (err) => this.close(err));
    this.idle();
  }

  get busy(): boolean {
    return this.pending.length > 0;
  }

  run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the iptables shell is gone'));
      this.pending.push({ resolve, reject });
      if (this.pending.length === 1) this.hold();
      this.child.stdin.write(`${args.join(US)}\n`);
    });
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    for (;;) {
      const end = /\n\x01(\d+)\n/.exec(this.buffered);
      if (!end) return;
      const out = this.buffered.slice(0, end.index);
      this.buffered = this.buffered.slice(end.index + end[0].length);
      const code = Number(end[1]);
      const done = this.pending.shift();
      if (!this.busy) this.idle();
      if (!done) continue;
      if (code === 0) done.resolve(out);
      else done.reject(Object.assign(new Error(out.trim() || `iptables exited with ${code}`), { stderr: out, code }));
    }
  }

  /** While a command is out, this process waits for its answer. */
  private hold(): void {
    this.child.ref();
    (this.child.stdout as Socket).ref();
  }

  /** An idle shell does not keep this process alive. */
  private idle(): void {
    this.child.unref();
    (this.child.stdout as Socket).unref();
  }

  private close(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone(this);
    for (const p of this.pending.splice(0)) p.reject(err);
    this.child.stdin.destroy();
    this.child.stdout.destroy();
  }
}

/**
 * A few shells running `command -w <args>` (`iptables`, or a stand-in in specs), started on first
 * use; `run` is an IptablesRunner. Each answers one command at a time: a command waits for an idle
 * shell, or a new one while there are fewer than `maxShells`.
 */
export class IptablesShells {
  private readonly shells: IptablesShell[] = [];

  constructor(private readonly command = 'iptables', private readonly maxShells = MAX_SHELLS) {}

  /** `<command> -w <args>`: resolves with its output (trailing newlines dropped), rejects with it (as `stderr`) and its exit `code`. */
  readonly run: IptablesRunner = (args) => {
    if (args.some((a) => a.includes('\n') || a.includes(US) || a.includes(SOH))) return this.fork(args);
    let shell = this.shells.find((s) => !s.busy);
    if (!shell && this.shells.length < this.maxShells) {
      shell = new IptablesShell(this.command, (gone) => {
        const at = this.shells.indexOf(gone);
        if (at >= 0) this.shells.splice(at, 1);
      });
      this.shells.push(shell);
    }
    shell ??= this.shells.reduce((a, b) => (b.pending.length < a.pending.length ? b : a));
    return shell.run(args).catch((err: Error & { code?: number }) => {
      // The shell itself failed (not the command): run this one the plain way.
      if (typeof err.code === 'number') throw err;
      return this.fork(args);
    });
  };

  /** Shells running now (for specs). */
  get size(): number {
    return this.shells.length;
  }

  private async fork(args: string[]): Promise<string> {
    return this.command === 'iptables' ? localIptables(args) : (await run(this.command, ['-w', ...args])).stdout;
  }
}

/** `iptables -w <args>` on this machine, through long-lived shells (a plain fork if none can start). */
export const shellIptables: IptablesRunner = new IptablesShells().run;
