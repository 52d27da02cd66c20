/**
 * A local SSH server whose sessions run inside one container: `exec` and `shell` become container
 * processes, the `sftp` subsystem works on the container's files. Created by
 * `Container.createSshServer`, stopped by `stop()`, `Container.destroySshServer`, or with its
 * container or session.
 *
 * Clients log in with a key of the user's own (publickey authentication, any user name): by
 * default their tfnz account keys and `~/.ssh/id_*.pub` / `~/.ssh/authorized_keys`, or the keys
 * given as `authorizedKeys` (ssh-authorized-keys.ts). Anyone else is refused, also on 127.0.0.1,
 * which other users of the machine can reach.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import type { AuthContext, Connection, ParsedKey, Server, ServerChannel, Session, TcpipRequestInfo } from 'ssh2';
import { PortInUse } from '../protocol';
import { accountsDir } from './accounts';
import type { Container } from './container';
import type { Logger } from './log';
import type { Process } from './process';
import type { Tunnel } from './tunnel';
import type { serveSftp } from './sftp-server';
import type * as AuthorizedKeys from './ssh-authorized-keys';

type ServeSftp = typeof serveSftp;
import { commonJsExports, importOptional } from '../shared/optional-dependency';

type Ssh2 = typeof import('ssh2');

/**
 * ssh2 (with its native helpers) and the SFTP server load on the first `createSshServer`, not on
 * `import 'tfnz'`; ssh2 is an optional package, so a missing one says what to install.
 */
async function loadSsh(): Promise<{ ssh2: Ssh2; sftp: ServeSftp; authorizedKeys: typeof AuthorizedKeys }> {
  const [ssh2, { serveSftp: sftp }, authorizedKeys] = await importOptional(
    () => Promise.all([import('ssh2'), import('./sftp-server'), import('./ssh-authorized-keys')]),
    ['ssh2'],
    'Container.createSshServer',
  );
  return { ssh2: commonJsExports(ssh2), sftp, authorizedKeys };
}

/** Options of `Container.createSshServer`. */
export interface SshServerOptions {
  /** Local address to listen on; default 127.0.0.1 (only this machine). Anything wider lets others in. */
  bind?: string;
  /**
   * Public keys that may log in, in authorized_keys form (`ssh-ed25519 AAAA… comment`), instead of
   * the defaults: the tfnz account keys on this machine, `~/.ssh/id_*.pub` and `~/.ssh/authorized_keys`.
   */
  authorizedKeys?: string[];
}

/** The host key file in the tfnz home ($TFNZ_HOME or ~/.tfnz), made on first use. */
export function sshHostKeyPath(): string {
  return join(accountsDir(), 'ssh_host_ed25519_key');
}

/** The SSH host key, generated (ed25519) and saved with mode 0600 the first time. */
export function sshHostKey(utils: Ssh2['utils']): string {
  const file = sshHostKeyPath();
  if (!existsSync(file)) {
    mkdirSync(accountsDir(), { recursive: true, mode: 0o700 });
    try {
      // 'wx': when two servers start at once, the first key written wins and both use it.
      writeFileSync(file, utils.generateKeyPairSync('ed25519').private, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readFileSync(file, 'utf8');
}

interface Pty {
  cols: number;
  rows: number;
}

/**
 * A local SSH/SFTP server whose sessions run inside one container, from
 * `Container.createSshServer` (needs the optional `ssh2` package). Any user name, with one of the
 * admitted keys; it listens on 127.0.0.1 unless told otherwise.
 */
export class SshServer {
  readonly id = nanoid();
  private readonly clients = new Set<Connection>();
  /** Tunnels that carry `ssh -L` / `-W` connections, one per container port, made on first use. */
  private readonly forwards = new Map<number, Promise<Tunnel>>();
  private stopping?: Promise<void>;

  private constructor(
    readonly container: Container,
    readonly bind: string,
    private readonly server: Server,
    private readonly log: Logger,
    private readonly keys: ParsedKey[],
    private readonly serveSftp: ServeSftp,
  ) {
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  /** The local port, also when it was chosen by the system (and still after `stop()`). */
  readonly port: number;

  get isStopped(): boolean {
    return this.stopping !== undefined;
  }

  /** `await using ssh = await container.createSshServer()`: stopped when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.container.destroySshServer(this);
  }

  /** @internal Use `Container.createSshServer`. */
  static async open(container: Container, port: number, opts: SshServerOptions, log: Logger): Promise<SshServer> {
    const bind = opts.bind ?? '127.0.0.1';
    const { ssh2, sftp, authorizedKeys } = await loadSsh();
    const server = new ssh2.Server({ hostKeys: [sshHostKey(ssh2.utils)], ident: 'tfnz' });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' || err.code === 'EACCES'
          ? new PortInUse(`cannot listen for ssh on ${bind}:${port}: ${err.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : 'already in use'}; choose another port or 0 for any`)
          : err),
      );
      server.listen(port, bind, () => resolve());
    });
    const keys = authorizedKeys.parseAuthorizedKeys(opts.authorizedKeys ?? authorizedKeys.defaultSshKeys());
    if (keys.length === 0) log.info('ssh server: no public key admits anyone (give authorizedKeys, or make ~/.ssh/id_ed25519 with ssh-keygen)');
    const ssh = new SshServer(container, bind, server, log, keys, sftp);
    server.on('connection', (client) => ssh.accept(client));
    server.on('error', (err: Error) => log.info(`ssh server ${bind}:${ssh.port}: ${err.message}`));
    log.info(`ssh server listening: ssh -p ${ssh.port} root@localhost (container ${container.id})`);
    return ssh;
  }

  /** Stop listening and end every connection (their processes are destroyed). Resolves once closed. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all([
      new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const client of this.clients) client.end();
      }),
      ...[...this.forwards.values()].map((t) => t.then((tunnel) => this.container.destroyTunnel(tunnel), () => undefined)),
    ]).then(() => undefined);
    return this.stopping;
  }

  private accept(client: Connection): void {
    if (this.isStopped) return void client.end();
    this.clients.add(client);
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => {
      client.on('session', (accept) => this.session(accept()));
      client.on('tcpip', (accept, reject, info) => this.forward(accept, reject, info));
    });
    client.on('error', (err: Error) => this.log.debug(`ssh client: ${err.message}`));
    client.on('close', () => this.clients.delete(client));
  }

  /** Publickey only: a listed key, proven by its signature (a query without one is told "try it"). */
  private authenticate(ctx: AuthContext): void {
    if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
    const key = this.keys.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
    if (!key) return ctx.reject(['publickey']);
    if (!ctx.signature || !ctx.blob) return ctx.accept();
    if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
    ctx.reject(['publickey']);
  }

  private session(session: Session): void {
    let pty: Pty | undefined;
    let process: Process | undefined;
    session.on('pty', (accept, _reject, info) => {
      pty = { cols: info.cols, rows: info.rows };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      pty = { cols: info.cols, rows: info.rows };
      if (info.cols > 0 && info.rows > 0) process?.resize(info.cols, info.rows);
      accept?.();
    });
    session.on('env', (accept) => accept?.());
    session.on('exec', (accept, _reject, info) => (process = this.run(accept(), info.command, pty)));
    session.on('shell', (accept) => (process = this.run(accept(), undefined, pty)));
    session.on('sftp', (accept) => this.serveSftp(accept(), this.container, this.log));
  }

  /**
   * `ssh -L` and `ssh -W`: a connection to a port of the container, carried by a tunnel like
   * `attachTunnel`'s (so through the location, to the container's private address). Only the
   * container itself is a destination: localhost, 127.0.0.1, ::1 or its private address.
   */
  private forward(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): void {
    const local = ['localhost', '127.0.0.1', '::1', this.container.privateIp].includes(info.destIP);
    if (!local || this.isStopped) return reject();
    const port = info.destPort;
    let tunnel = this.forwards.get(port);
    if (!tunnel) {
      tunnel = this.container.attachTunnel(port);
      this.forwards.set(port, tunnel);
      tunnel.catch((err: Error) => {
        this.forwards.delete(port);
        this.log.info(`ssh forward to ${this.container.id}:${port}: ${err.message}`);
      });
    }
    tunnel.then(
      (t) => {
        if (this.isStopped) return reject();
        const socket = connect(t.localPort, '127.0.0.1');
        const refused = () => reject();
        socket.once('error', refused);
        socket.once('connect', () => {
          socket.off('error', refused);
          const channel = accept();
          socket.pipe(channel).pipe(socket);
          socket.on('error', () => channel.close());
          socket.on('close', () => channel.close());
          channel.on('error', () => socket.destroy());
          channel.on('close', () => socket.destroy());
        });
      },
      () => reject(),
    );
  }

  /** A process for an exec (a command) or a shell (none), wired to the channel both ways. */
  private run(channel: ServerChannel, command: string | undefined, pty: Pty | undefined): Process | undefined {
    let process: Process;
    try {
      // The pty's size goes with the spawn: a resize only reaches a process once it has started,
      // too late for a program that asks at once (`stty size`, `top`, a shell's first prompt).
      const size = pty && pty.cols > 0 && pty.rows > 0 ? { cols: Math.floor(pty.cols), rows: Math.floor(pty.rows) } : undefined;
      process = command === undefined || command.trim() === ''
        ? this.container.spawnShell({ echo: !!pty, size })
        : this.container.spawnProcess(command, { tty: !!pty, echo: !!pty, size });
    } catch (err) {
      channel.stderr.write(`tfnz: ${(err as Error).message}\n`);
      channel.exit(1);
      channel.end();
      return undefined;
    }
    // Output can still arrive after the client closed the channel: drop it then.
    let open = true;
    channel.on('error', (err: Error) => this.log.debug(`ssh channel: ${err.message}`));
    process.output$.subscribe((b) => open && channel.write(b));
    process.stderr$.subscribe((b) => open && channel.stderr.write(b));
    channel.on('data', (data: Buffer) => process.stdin(data));
    // End of input closes a plain process's stdin; a terminal has no end of input (as with sshd).
    channel.on('end', () => pty || process.closeStdin());
    channel.on('close', () => {
      open = false;
      if (process.isRunning) this.container.destroyProcess(process).catch(() => undefined);
    });
    process.wait().then(
      (code) => {
        if (!open) return;
        channel.exit(code);
        channel.end();
      },
      (err: Error) => {
        if (!open) return;
        channel.stderr.write(`tfnz: ${err.message}\n`);
        channel.exit(255);
        channel.end();
      },
    );
    return process;
  }
}
