import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { nanoid } from 'nanoid';
import ssh2 from 'ssh2';
import { Location, PortInUse, type Container, type SshServer } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { exited } from '../support/processes';
import { httpGet } from '../support/net';

const CLIENT_OPTS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes'];

/** An ssh2 client logged in to `port` on the loopback; rejects with whatever refused it. */
function sshClient(port: number, config: ssh2.ConnectConfig): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client)).once('error', (err) => {
      client.end();
      reject(err);
    });
    client.connect({ host: '127.0.0.1', port, ...config });
  });
}

/** A fresh ed25519 key pair made with ssh-keygen; returns the private key's path (`.pub` beside it). */
async function keygen(file: string): Promise<string> {
  const made = await runClient('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tfnz-spec', '-f', file]);
  if (made.code !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
  return file;
}

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run an OpenSSH client to its end, feeding it `input` (or nothing) on stdin. */
function runClient(program: string, args: string[], input: string | Buffer = '', cwd?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    // A client that fails at once (connection refused) may close its stdin before we write: EPIPE is no error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

const ssh = (port: number, command: string[], input?: string | Buffer, extra: string[] = []) =>
  runClient('/usr/bin/ssh', [...CLIENT_OPTS, ...extra, '-p', String(port), 'root@127.0.0.1', ...command], input);

/** ssh with only `key` to offer (not the user's). */
const sshWithKey = (port: number, key: string, command: string[]) => {
  const opts = CLIENT_OPTS.filter((o, i) => o !== '-i' && CLIENT_OPTS[i - 1] !== '-i');
  return runClient('/usr/bin/ssh', [...opts, '-i', key, '-p', String(port), 'root@127.0.0.1', ...command]);
};

/** Run `lines` as an sftp batch (`sftp -b`) with `dir` as the local folder. */
function sftp(port: number, dir: string, lines: string[]): Promise<Ran> {
  const batch = join(dir, `batch-${nanoid(6)}`);
  writeFileSync(batch, `${lines.join('\n')}\n`);
  return runClient('/usr/bin/sftp', [...CLIENT_OPTS, '-P', String(port), '-b', batch, 'root@127.0.0.1'], '', dir);
}

/** Resolves with the error code of a TCP connection attempt ('connected' if it was accepted). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A local port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('ssh and sftp into containers (real location, real Docker Engine, OpenSSH clients)', function () {
  this.timeout(120_000);
  let server: LocationServer;
  let loc: Location;
  let box: Container;
  let sshd: SshServer;
  let dir: string;
  const savedHome = process.env.TFNZ_HOME;
  const savedUserHome = process.env.HOME;
  let home: string;
  /** The user's home: ~/.ssh/id_ed25519 is the key their SSH servers admit by default. */
  let userHome: string;
  let userKey: string;
  let strangerKey: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tfnz-ssh-'));
    home = mkdtempSync(join(tmpdir(), 'tfnz-ssh-home-'));
    userHome = mkdtempSync(join(tmpdir(), 'tfnz-ssh-user-'));
    mkdirSync(join(userHome, '.ssh'), { mode: 0o700 });
    userKey = await keygen(join(userHome, '.ssh', 'id_ed25519'));
    strangerKey = await keygen(join(dir, 'stranger'));
    // Every client below logs in with the user's key (ssh -i); servers read ~/.ssh from $HOME.
    CLIENT_OPTS.push('-i', userKey);
    process.env.HOME = userHome;
    server = await LocationServer.start({ name: `spec-ssh-${nanoid(6)}`, port: 0 });
    loc = await Location.connect({ location: server.url, quiet: true });
    box = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    await box.ready();
    // The host key goes to the tfnz home: a fresh one, so the spec sees it made.
    process.env.TFNZ_HOME = home;
    try {
      sshd = await box.createSshServer();
    } finally {
      if (savedHome === undefined) delete process.env.TFNZ_HOME;
      else process.env.TFNZ_HOME = savedHome;
    }
  });
  after(async () => {
    await loc?.disconnect();
    await server?.close();
    if (savedUserHome === undefined) delete process.env.HOME;
    else process.env.HOME = savedUserHome;
    CLIENT_OPTS.splice(CLIENT_OPTS.indexOf('-i'), 2);
    for (const d of [dir, home, userHome]) rmSync(d, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 on a free port, with an ed25519 host key kept private in the tfnz home', async () => {
    expect(sshd.port).to.be.greaterThan(0);
    expect(sshd.bind).to.equal('127.0.0.1');
    expect(box.allSshServers()).to.deep.equal([sshd]);
    const keyFile = join(home, 'ssh_host_ed25519_key');
    expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
    const key = readFileSync(keyFile, 'utf8');
    expect(key).to.contain('OPENSSH PRIVATE KEY');
    // The client sees that key.
    const scan = await runClient('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
    expect(scan.stdout.toString()).to.contain('ssh-ed25519');
  });

  it('admits only the user\'s own keys: another key, a password or no key is refused', async () => {
    const stranger = await sshWithKey(sshd.port, strangerKey, ['echo in']);
    expect(stranger.code).to.equal(255);
    expect(stranger.stderr).to.contain('Permission denied');
    expect(stranger.stdout.toString()).to.equal('');
    for (const auth of [{ password: 'root' }, {}]) {
      const err = await sshClient(sshd.port, { username: 'root', ...auth }).then((c) => void c.end(), (e: Error) => e);
      expect(err?.message, JSON.stringify(auth)).to.match(/authentication methods failed/);
    }
    // Keys given explicitly replace the defaults.
    const only = await box.createSshServer(0, { authorizedKeys: [readFileSync(`${strangerKey}.pub`, 'utf8')] });
    try {
      expect((await sshWithKey(only.port, strangerKey, ['echo in'])).stdout.toString()).to.equal('in\n');
      expect((await ssh(only.port, ['echo in'])).code).to.equal(255);
    } finally {
      await only.stop();
    }
    // The user carries on.
    expect((await ssh(sshd.port, ['echo still in'])).stdout.toString()).to.equal('still in\n');
  });

  it('sftp: a write or size beyond 256 MiB fails without allocating it, and the session carries on', async () => {
    const client = await sshClient(sshd.port, { username: 'root', privateKey: readFileSync(userKey) });
    try {
      const sftpc = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      const handle = await new Promise<Buffer>((resolve, reject) => sftpc.open('/tmp/bounded', 'w', (err, h) => (err ? reject(err) : resolve(h))));
      const write = (at: number, data: Buffer) => new Promise<Error | undefined>((resolve) => sftpc.write(handle, data, 0, data.length, at, (err) => resolve(err ?? undefined)));
      const before = process.memoryUsage().arrayBuffers;
      for (const at of [300 * 2 ** 20, 2 ** 40, 2 ** 52]) {
        const err = await write(at, Buffer.from('x'));
        expect(err?.message, `write at ${at}`).to.match(/limited to 268435456 bytes/);
      }
      const truncate = await new Promise<Error | undefined>((resolve) => sftpc.fsetstat(handle, { size: 2 ** 33 }, (err) => resolve(err ?? undefined)));
      expect(truncate?.message).to.match(/limited to 268435456 bytes/);
      expect(process.memoryUsage().arrayBuffers - before, 'nothing big was allocated').to.be.below(64 * 2 ** 20);
      expect(await write(0, Buffer.from('small and fine\n'))).to.equal(undefined);
      await new Promise<void>((resolve, reject) => sftpc.close(handle, (err) => (err ? reject(err) : resolve())));
      expect((await box.fetch('/tmp/bounded')).toString()).to.equal('small and fine\n');
    } finally {
      client.end();
    }
  });

  it('runs a command: stdout, stderr and the exit code come back', async () => {
    const ran = await ssh(sshd.port, ['echo hello from $(hostname); echo oops >&2; exit 3']);
    expect(ran.stdout.toString()).to.match(/^hello from \S+\n$/);
    expect(ran.stderr).to.equal('oops\n');
    expect(ran.code).to.equal(3);
    expect((await ssh(sshd.port, ['true'])).code).to.equal(0);
  });

  it('pipes stdin through a command, and its end reaches the command', async () => {
    const ran = await ssh(sshd.port, ['sort'], 'pear\napple\nfig\n');
    expect(ran.stdout.toString()).to.equal('apple\nfig\npear\n');
    expect(ran.code).to.equal(0);
    const data = randomBytes(300_000);
    const counted = await ssh(sshd.port, ['wc -c'], data);
    expect(counted.stdout.toString().trim()).to.equal(String(data.length));
  });

  it('gives a shell on a terminal (ssh -tt), and a command on a terminal', async () => {
    const shell = await ssh(sshd.port, [], 'echo "hi $((40 + 2))"; exit 7\n', ['-tt']);
    expect(shell.stdout.toString()).to.contain('hi 42');
    expect(shell.code).to.equal(7);
    const tty = await ssh(sshd.port, ['tty'], '', ['-tt']);
    expect(tty.stdout.toString()).to.match(/\/dev\/pts\/\d+/);
    // The terminal's size reaches the command before it runs (script gives ssh a terminal of 123x45).
    const sized = await runClient('/usr/bin/script', ['-qec',
      `stty cols 123 rows 45; ssh -t ${CLIENT_OPTS.join(' ')} -p ${sshd.port} root@127.0.0.1 'stty size'`, '/dev/null']);
    expect(sized.stdout.toString()).to.contain('45 123');
    const plain = await ssh(sshd.port, ['tty']);
    expect(plain.stdout.toString()).to.contain('not a tty');
  });

  it('follows window changes of a shell (ssh2 client, as OpenSSH needs a real terminal for them)', async () => {
    const client = await sshClient(sshd.port, { username: 'anyone', privateKey: readFileSync(userKey) });
    try {
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.shell({ rows: 24, cols: 80 }, (err, s) => (err ? reject(err) : resolve(s))));
      let seen = '';
      stream.on('data', (b: Buffer) => (seen += b.toString()));
      /** Type a line and resolve with what came back until `want` showed up after it (or the shell ended). */
      const ask = (line: string, want: RegExp) => {
        const from = seen.length;
        stream.write(`${line}\n`);
        return new Promise<boolean>((resolve) => {
          const check = () => {
            if (!want.test(seen.slice(from))) return;
            stream.off('data', check);
            resolve(true);
          };
          stream.on('data', check);
          stream.once('close', () => resolve(false));
          check();
        });
      };
      expect(await ask('stty size', /^24 80\r?$/m)).to.equal(true);
      stream.setWindow(30, 100, 0, 0);
      // The resize and the typed line take different paths in the location: ask until it shows (bounded).
      let resized = false;
      for (let i = 0; i < 20 && !resized; i++) {
        const from = seen.length;
        // "do""ne" so that the echo of the typed line does not count as the answer
        if (!(await ask('stty size; echo "do""ne"', /^done\r?$/m))) break;
        resized = /^30 100\r?$/m.test(seen.slice(from));
      }
      expect(resized, seen).to.equal(true);
      const ended = new Promise<number>((resolve) => stream.once('exit', (code: number) => resolve(code)));
      stream.write('exit 4\n');
      expect(await ended).to.equal(4);
    } finally {
      client.end();
    }
  });

  it('destroys the process when the client goes away', async () => {
    const child = spawn('/usr/bin/ssh', [...CLIENT_OPTS, '-p', String(sshd.port), 'root@127.0.0.1', 'echo started; sleep 1234'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => line === 'started' && resolve());
        child.once('exit', (code) => reject(new Error(`ssh exited (${code}) before the command started`)));
      });
      const process = box.allProcesses().find((p) => p.command?.includes('sleep 1234'));
      expect(process, 'the ssh command is a process of the container').to.not.equal(undefined);
      child.kill('SIGTERM');
      expect(await process!.wait()).to.equal(137);
      expect((await box.runProcess('ps')).stdout.toString()).to.not.contain('sleep 1234');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('sftp: put and get text and binary files byte for byte, rename, rm, mkdir, rmdir', async () => {
    const text = `kia ora ${nanoid()}\n`;
    const binary = randomBytes(1024 * 1024);
    writeFileSync(join(dir, 'note.txt'), text);
    writeFileSync(join(dir, 'blob.bin'), binary);
    const first = await sftp(sshd.port, dir, [
      'put note.txt',
      'put blob.bin /tmp/blob.bin',
      'get /note.txt note-back.txt',
      'get /tmp/blob.bin blob-back.bin',
      'rename /note.txt /renamed.txt',
      'get /renamed.txt renamed-back.txt',
      'mkdir /unit-test',
      'ls /',
    ]);
    expect(first.code, first.stderr).to.equal(0);
    expect(readFileSync(join(dir, 'note-back.txt'), 'utf8')).to.equal(text);
    expect(readFileSync(join(dir, 'renamed-back.txt'), 'utf8')).to.equal(text);
    expect(readFileSync(join(dir, 'blob-back.bin')).equals(binary), 'binary file byte-identical').to.equal(true);
    expect(first.stdout.toString()).to.match(/\/unit-test\b/);
    // The container sees the same bytes.
    expect((await box.fetch('/tmp/blob.bin')).equals(binary)).to.equal(true);
    expect((await box.runProcess('cat /renamed.txt; ls /note.txt')).stdout.toString()).to.equal(text);

    const second = await sftp(sshd.port, dir, ['rm /renamed.txt', 'rmdir /unit-test', 'ls /']);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout.toString().split('sftp> ls /')[1]).to.not.match(/unit-test|renamed/);
    const gone = await sftp(sshd.port, dir, ['get /renamed.txt']);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.match(/not found|No such file/);
  });

  it('sftp: lists folders long and short, and says why an operation failed', async () => {
    await box.put('/srv/listing/a file.txt', 'spaced name\n');
    await box.runProcess('mkdir -p /srv/listing/sub && ln -s /etc/passwd /srv/listing/link && chmod 600 "/srv/listing/a file.txt"');
    const listing = await sftp(sshd.port, dir, ['ls -la /srv/listing']);
    expect(listing.code, listing.stderr).to.equal(0);
    const out = listing.stdout.toString();
    expect(out).to.match(/^-rw------- +1 root +root +12 .* a file\.txt$/m);
    expect(out).to.match(/^d[rwx-]{9} .* sub$/m);
    expect(out).to.match(/^l[rwx-]{9} .* link$/m);

    const missing = await sftp(sshd.port, dir, ['ls /no/such/folder']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/not found|No such file/);
    const notEmpty = await sftp(sshd.port, dir, ['rmdir /srv/listing']);
    expect(notEmpty.code).to.equal(1);
    expect(notEmpty.stderr).to.contain('Failure');
    const noFolder = await sftp(sshd.port, dir, ['put note.txt /no/such/folder/note.txt']);
    expect(noFolder.code).to.equal(1);
    expect(noFolder.stderr).to.match(/No such file/);
    const removeMissing = await sftp(sshd.port, dir, ['rm /nothing-here']);
    expect(removeMissing.code).to.equal(1);
    expect(removeMissing.stderr).to.match(/No such file|not found/);
    const chmod = await sftp(sshd.port, dir, ['chmod 640 "/srv/listing/a file.txt"']);
    expect(chmod.code, chmod.stderr).to.equal(0);
    expect((await box.runProcess(['stat', '-c', '%a', '/srv/listing/a file.txt'])).stdout.toString()).to.equal('640\n');
    // rename never replaces what is there
    const clash = await sftp(sshd.port, dir, ['rename /srv/listing/sub /etc']);
    expect(clash.code).to.equal(1);
    expect((await box.runProcess('ls -d /srv/listing/sub')).exitCode).to.equal(0);
  });

  it('sftp works on a coreutils image too (nginx)', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    const nginxSsh = await nginx.createSshServer(0);
    const ran = await sftp(nginxSsh.port, dir, ['ls -l /usr/share/nginx/html', 'get /usr/share/nginx/html/index.html nginx-index.html']);
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout.toString()).to.match(/-rw-r--r-- .* index\.html/);
    expect(readFileSync(join(dir, 'nginx-index.html'), 'utf8')).to.contain('Welcome to nginx!');
    await loc.node().destroyContainer(nginx);
  });

  it('forwards connections to the container\'s ports (ssh -W, ssh -L), and to nothing else', async () => {
    const nginx = loc.node().spawnContainer('nginx');
    await nginx.waitTcp(80);
    const nginxSsh = await nginx.createSshServer();
    const viaW = await ssh(nginxSsh.port, [], 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n', ['-W', 'localhost:80']);
    expect(viaW.stdout.toString()).to.match(/^HTTP\/1\.1 200 OK/).and.contain('Welcome to nginx!');

    // -L: the forward listens before the remote command runs, so 'ready' means it is there.
    const localPort = await freePort();
    const child = spawn('/usr/bin/ssh', [...CLIENT_OPTS, '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${localPort}:${nginx.privateIp}:80`,
      '-p', String(nginxSsh.port), 'root@127.0.0.1', 'echo ready; exec sleep 600'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => line === 'ready' && resolve());
        child.once('exit', (code) => reject(new Error(`ssh -L exited (${code})`)));
      });
      const page = await httpGet(localPort);
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('Welcome to nginx!');
    } finally {
      child.kill('SIGKILL');
    }

    const elsewhere = await ssh(nginxSsh.port, [], '', ['-W', '192.0.2.1:80']);
    expect(elsewhere.code).to.equal(255);
    expect(elsewhere.stderr).to.match(/open failed|forwarding failed/);
    await loc.node().destroyContainer(nginx);
  });

  it('a port in use is PortInUse', async () => {
    let caught: unknown;
    try {
      await box.createSshServer(sshd.port);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(PortInUse);
    expect((caught as Error).message).to.contain(String(sshd.port));
  });

  it('stops when its container is destroyed, and when asked', async () => {
    const victim = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    const a = await victim.createSshServer();
    const b = await victim.createSshServer();
    expect((await ssh(a.port, ['echo up'])).stdout.toString()).to.equal('up\n');
    await victim.destroySshServer(b);
    expect(await tryConnect(b.port)).to.equal('ECONNREFUSED');
    expect(victim.allSshServers()).to.deep.equal([a]);
    await loc.node().destroyContainer(victim);
    expect(victim.allSshServers()).to.deep.equal([]);
    await a.stop(); // already stopping: resolves once closed
    expect(await tryConnect(a.port)).to.equal('ECONNREFUSED');
    const refused = await ssh(a.port, ['true']);
    expect(refused.code).to.equal(255);
    expect(refused.stderr).to.contain('Connection refused');
  });

  it('stops when the session disconnects', async () => {
    const other = await Location.connect({ location: server.url, quiet: true });
    const ctr = other.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
    const s = await ctr.createSshServer();
    expect((await ssh(s.port, ['echo up'])).stdout.toString()).to.equal('up\n');
    await other.disconnect();
    expect(s.isStopped).to.equal(true);
    expect(await tryConnect(s.port)).to.equal('ECONNREFUSED');
  });

  it('tfnz run --ssh prints the ssh line and serves the container', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'run', '--ssh', '0', '--location', server.url, '-q', 'busybox', 'sleep', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: cli.stderr! }).on('line', (l) => l.includes('ssh -p') && resolve(l));
        cli.once('exit', (code) => reject(new Error(`tfnz run exited (${code}) before the ssh server started`)));
      });
      const m = /^tfnz: ssh -p (\d+) root@localhost\b/.exec(line);
      expect(m, line).to.not.equal(null);
      const ran = await ssh(Number(m![1]), ['cat /proc/1/cmdline | tr "\\0" " "']);
      expect(ran.stdout.toString()).to.contain('sleep 3600');
      cli.kill('SIGINT');
      await exited(cli);
      expect(await tryConnect(Number(m![1]))).to.equal('ECONNREFUSED');
    } finally {
      cli.kill('SIGKILL');
    }
  });
});
