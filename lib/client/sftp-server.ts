/**
 * The server side of SFTP for `Container.createSshServer`: each request becomes an SDK call on the
 * container. File contents travel through `fetch` / `put`; listings, stats and the file-system
 * changes (mkdir, rmdir, rm, rename, chmod) run small commands inside the container through
 * `runProcess`, so the image needs a POSIX shell with `stat`, `mv`, `rm`, `mkdir`, `rmdir`, `chmod`
 * (busybox and coreutils both do).
 *
 * An open file is held in memory: read whole when opened, written back whole with `put` when its
 * handle is closed. That suits source files and configuration, not multi-gigabyte files: offsets
 * and sizes come from the client, so a file may grow to `SFTP_LIMITS.fileBytes` and all open files
 * of one SFTP session together to `SFTP_LIMITS.heldBytes`; beyond that a request fails (FAILURE
 * status, saying why) and nothing is allocated.
 */
import { posix } from 'node:path';
import ssh2, { type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import type { Container } from './container';
import type { Logger } from './log';

// ssh2 is CommonJS: take its exports from the default import.
const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** `stat -c` format: raw mode (hex), size, uid, gid, atime, mtime, links, user, group, then the name. */
const STAT_FORMAT = '%f %s %u %g %X %Y %h %U %G %n';
/** Entries per READDIR reply, so a big folder never makes one oversized packet. */
const NAMES_PER_REPLY = 100;

/** How much an SFTP session may hold in memory (see above). */
export const SFTP_LIMITS = {
  /** Largest file that can be opened, written or truncated to: 256 MiB. */
  fileBytes: 256 * 2 ** 20,
  /** All open files of one SFTP session together: 512 MiB. */
  heldBytes: 512 * 2 ** 20,
};

/** A failure with the SFTP status code it maps to. */
class SftpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface FileHandle {
  kind: 'file';
  path: string;
  data: Buffer;
  length: number;
  /** Must be written back on close: it was written to, truncated or created. */
  dirty: boolean;
  /** Permissions asked for with fsetstat, applied after the write-back. */
  mode?: number;
}
interface DirHandle {
  kind: 'dir';
  entries: FileEntry[];
}

export function serveSftp(sftp: SFTPWrapper, container: Container, log: Logger): void {
  const handles = new Map<number, FileHandle | DirHandle>();
  let nextHandle = 1;

  const newHandle = (h: FileHandle | DirHandle) => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  };
  const handleId = (buf: Buffer) => (buf.length === 4 ? buf.readUInt32BE(0) : -1);

  /** Bytes the open files hold now. */
  const held = () => [...handles.values()].reduce((sum, h) => sum + (h.kind === 'file' ? h.data.length : 0), 0);

  /** Make room for `size` bytes in `h` (growing by doubling), within the limits; else FAILURE. */
  const grow = (h: FileHandle, size: number) => {
    if (!Number.isSafeInteger(size) || size < 0 || size > SFTP_LIMITS.fileBytes) {
      throw new SftpFailure(STATUS_CODE.FAILURE, `${h.path} would be ${size} bytes; files over SFTP are limited to ${SFTP_LIMITS.fileBytes} bytes (copy bigger ones with Container.put or a volume)`);
    }
    if (size <= h.data.length) return;
    const capacity = Math.min(SFTP_LIMITS.fileBytes, Math.max(size, h.data.length * 2));
    if (held() - h.data.length + capacity > SFTP_LIMITS.heldBytes) {
      throw new SftpFailure(STATUS_CODE.FAILURE, `the open files of this SFTP session would hold more than ${SFTP_LIMITS.heldBytes} bytes; close some first`);
    }
    const grown = Buffer.alloc(capacity);
    h.data.copy(grown, 0, 0, h.length);
    h.data = grown;
  };

  /** Run a request handler; any failure becomes a status reply (never an unhandled rejection). */
  const serve = <A extends unknown[]>(name: string, fn: (reqId: number, ...args: A) => Promise<void>) =>
    (reqId: number, ...args: A) => {
      fn(reqId, ...args).catch((err: Error) => {
        const status = err instanceof SftpFailure ? err.status : STATUS_CODE.FAILURE;
        if (!(err instanceof SftpFailure)) log.info(`sftp ${name}: ${err.message}`);
        sftp.status(reqId, status, err.message);
      });
    };

  /** Run a script under `sh -c` with arguments; a non-zero exit becomes the matching SftpFailure. */
  const sh = async (script: string, ...args: string[]): Promise<string> => {
    const result = await container.runProcess(['sh', '-c', script, 'sh', ...args]);
    if (result.exitCode !== 0) throw failureFrom(result.stderr.toString() || `exit code ${result.exitCode}`);
    return result.stdout.toString();
  };

  const statPath = async (path: string, follow: boolean): Promise<Attributes> => {
    const out = await sh(`exec stat ${follow ? '-L ' : ''}-c '${STAT_FORMAT}' -- "$1"`, path);
    const entry = parseStatLine(out.split('\n')[0]);
    if (!entry) throw new SftpFailure(STATUS_CODE.FAILURE, `cannot read the attributes of ${path}`);
    return entry.attrs;
  };

  /** What is at `path`: a regular file, a folder, something else, or nothing (and whether its folder exists). */
  const probe = async (path: string): Promise<'file' | 'dir' | 'other' | 'missing' | 'no-parent'> => {
    const result = await container.runProcess(['sh', '-c',
      'if [ -d "$1" ]; then echo dir; elif [ -f "$1" ]; then echo file; elif [ -e "$1" ]; then echo other; ' +
      'elif [ -d "$2" ]; then echo missing; else echo no-parent; fi', 'sh', path, posix.dirname(path)]);
    return result.stdout.toString().trim() as 'file' | 'dir' | 'other' | 'missing' | 'no-parent';
  };

  const fileHandle = (buf: Buffer): FileHandle => {
    const h = handles.get(handleId(buf));
    if (h?.kind !== 'file') throw new SftpFailure(STATUS_CODE.FAILURE, 'not an open file handle');
    return h;
  };

  sftp.on('REALPATH', serve('realpath', async (reqId, path: string) => {
    const abs = absolute(path);
    sftp.name(reqId, [{ filename: abs, longname: abs, attrs: {} as Attributes }]);
  }));

  sftp.on('STAT', serve('stat', async (reqId, path: string) => sftp.attrs(reqId, await statPath(absolute(path), true))));
  sftp.on('LSTAT', serve('lstat', async (reqId, path: string) => sftp.attrs(reqId, await statPath(absolute(path), false))));

  sftp.on('OPEN', serve('open', async (reqId, filename: string, flags: number) => {
    const path = absolute(filename);
    const what = await probe(path);
    if (what === 'dir') throw new SftpFailure(STATUS_CODE.FAILURE, `${path} is a directory`);
    if (what === 'other') throw new SftpFailure(STATUS_CODE.FAILURE, `${path} is not a regular file`);
    if (what === 'no-parent') throw new SftpFailure(STATUS_CODE.NO_SUCH_FILE, `no such directory: ${posix.dirname(path)}`);
    if (what === 'missing' && !(flags & OPEN_MODE.CREAT)) throw new SftpFailure(STATUS_CODE.NO_SUCH_FILE, `no such file: ${path}`);
    if (what === 'file' && flags & OPEN_MODE.CREAT && flags & OPEN_MODE.EXCL) throw new SftpFailure(STATUS_CODE.FAILURE, `${path} exists`);
    const fresh = what === 'missing' || !!(flags & OPEN_MODE.TRUNC);
    if (!fresh) {
      const { size = 0 } = await statPath(path, true);
      if (size > SFTP_LIMITS.fileBytes) throw new SftpFailure(STATUS_CODE.FAILURE, `${path} is ${size} bytes; files over SFTP are limited to ${SFTP_LIMITS.fileBytes} bytes (copy bigger ones with Container.fetch or a volume)`);
      if (held() + size > SFTP_LIMITS.heldBytes) throw new SftpFailure(STATUS_CODE.FAILURE, `the open files of this SFTP session would hold more than ${SFTP_LIMITS.heldBytes} bytes; close some first`);
    }
    const data = fresh ? Buffer.alloc(0) : await container.fetch(path);
    sftp.handle(reqId, newHandle({ kind: 'file', path, data, length: data.length, dirty: fresh && !!(flags & OPEN_MODE.WRITE) }));
  }));

  sftp.on('READ', serve('read', async (reqId, handle: Buffer, offset: number, length: number) => {
    const h = fileHandle(handle);
    if (offset >= h.length) return void sftp.status(reqId, STATUS_CODE.EOF);
    // ssh2 caps what one reply carries; `length` only bounds a view of what is held already.
    sftp.data(reqId, h.data.subarray(offset, Math.min(h.length, offset + length)));
  }));

  sftp.on('WRITE', serve('write', async (reqId, handle: Buffer, offset: number, data: Buffer) => {
    const h = fileHandle(handle);
    const end = offset + data.length;
    grow(h, end);
    data.copy(h.data, offset);
    h.length = Math.max(h.length, end);
    h.dirty = true;
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('FSTAT', serve('fstat', async (reqId, handle: Buffer) => {
    const h = fileHandle(handle);
    const now = Math.floor(Date.now() / 1000);
    const attrs = await statPath(h.path, true).catch(() => ({ mode: 0o100644, uid: 0, gid: 0, size: 0, atime: now, mtime: now }));
    sftp.attrs(reqId, { ...attrs, size: h.length });
  }));

  sftp.on('FSETSTAT', serve('fsetstat', async (reqId, handle: Buffer, attrs: Attributes) => {
    const h = fileHandle(handle);
    if (attrs.size !== undefined && attrs.size !== h.length) {
      grow(h, attrs.size);
      h.data.fill(0, attrs.size, h.length);
      h.length = attrs.size;
      h.dirty = true;
    }
    if (attrs.mode !== undefined) h.mode = attrs.mode & 0o7777;
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('SETSTAT', serve('setstat', async (reqId, path: string, attrs: Attributes) => {
    if (attrs.mode !== undefined) await sh('exec chmod "$1" -- "$2"', (attrs.mode & 0o7777).toString(8), absolute(path));
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('CLOSE', serve('close', async (reqId, handle: Buffer) => {
    const id = handleId(handle);
    const h = handles.get(id);
    if (!h) throw new SftpFailure(STATUS_CODE.FAILURE, 'not an open handle');
    handles.delete(id);
    if (h.kind === 'file') {
      if (h.dirty) await container.put(h.path, h.data.subarray(0, h.length));
      if (h.mode !== undefined) await sh('exec chmod "$1" -- "$2"', h.mode.toString(8), h.path);
    }
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('OPENDIR', serve('opendir', async (reqId, path: string) => {
    const dir = absolute(path);
    // Globs that match nothing stay literal and fail stat quietly; `.*` brings `.` and `..`.
    const out = await sh(
      '[ -e "$1" ] || { echo "No such file or directory" >&2; exit 1; }; ' +
      '[ -d "$1" ] || { echo "Not a directory" >&2; exit 1; }; ' +
      `cd "$1" || exit 1; stat -c '${STAT_FORMAT}' -- .* * 2>/dev/null; exit 0`, dir);
    const entries = out.split('\n').map(parseStatLine).filter((e): e is FileEntry => e !== undefined);
    sftp.handle(reqId, newHandle({ kind: 'dir', entries }));
  }));

  sftp.on('READDIR', serve('readdir', async (reqId, handle: Buffer) => {
    const h = handles.get(handleId(handle));
    if (h?.kind !== 'dir') throw new SftpFailure(STATUS_CODE.FAILURE, 'not an open directory handle');
    if (h.entries.length === 0) return void sftp.status(reqId, STATUS_CODE.EOF);
    sftp.name(reqId, h.entries.splice(0, NAMES_PER_REPLY));
  }));

  sftp.on('MKDIR', serve('mkdir', async (reqId, path: string) => {
    await sh('exec mkdir -- "$1"', absolute(path));
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('RMDIR', serve('rmdir', async (reqId, path: string) => {
    await sh('exec rmdir -- "$1"', absolute(path));
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('REMOVE', serve('remove', async (reqId, path: string) => {
    await sh(
      '{ [ -e "$1" ] || [ -L "$1" ]; } || { echo "No such file or directory" >&2; exit 1; }; ' +
      '[ -d "$1" ] && ! [ -L "$1" ] && { echo "Is a directory" >&2; exit 1; }; exec rm -f -- "$1"', absolute(path));
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('RENAME', serve('rename', async (reqId, from: string, to: string) => {
    // SFTP v3 rename never replaces what is there (OpenSSH's server behaves the same).
    await sh(
      '{ [ -e "$1" ] || [ -L "$1" ]; } || { echo "No such file or directory" >&2; exit 1; }; ' +
      '{ [ -e "$2" ] || [ -L "$2" ]; } && { echo "File exists" >&2; exit 1; }; exec mv -- "$1" "$2"',
      absolute(from), absolute(to));
    sftp.status(reqId, STATUS_CODE.OK);
  }));

  sftp.on('READLINK', serve('readlink', async (reqId, path: string) => {
    const target = (await sh('exec readlink -- "$1"', absolute(path))).replace(/\n$/, '');
    sftp.name(reqId, [{ filename: target, longname: target, attrs: {} as Attributes }]);
  }));

  // The client is done (sftp's `bye`, or the end of a batch): close the channel, or it waits forever.
  sftp.on('end', () => sftp.end());
  sftp.on('close', () => handles.clear());

  sftp.on('SYMLINK', (reqId: number) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED, 'symlink is not supported'));
}

/** Paths are absolute from `/` (the sftp client's starting folder is `/`). */
function absolute(path: string): string {
  return posix.resolve('/', path || '.');
}

/** A command's stderr → the SFTP status the sftp client shows sensibly. */
function failureFrom(stderr: string): SftpFailure {
  const message = stderr.trim().split('\n').pop() ?? stderr;
  if (/no such file|not found/i.test(message)) return new SftpFailure(STATUS_CODE.NO_SUCH_FILE, message);
  if (/permission denied|operation not permitted|read-only file system/i.test(message)) return new SftpFailure(STATUS_CODE.PERMISSION_DENIED, message);
  return new SftpFailure(STATUS_CODE.FAILURE, message);
}

/** One line of `stat -c STAT_FORMAT` → a directory entry with an `ls -l` style long name. */
function parseStatLine(line: string): FileEntry | undefined {
  const m = /^([0-9a-f]+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\S+) (\S+) (.*)$/.exec(line);
  if (!m) return undefined;
  const [, modeHex, size, uid, gid, atime, mtime, links, user, group, name] = m;
  const attrs: Attributes = {
    mode: parseInt(modeHex, 16), size: Number(size), uid: Number(uid), gid: Number(gid), atime: Number(atime), mtime: Number(mtime),
  };
  const longname = [
    modeString(attrs.mode), links.padStart(4), user.padEnd(8), group.padEnd(8), size.padStart(8), dateString(attrs.mtime), name,
  ].join(' ');
  return { filename: name, longname, attrs };
}

function modeString(mode: number): string {
  const types: Record<number, string> = { 0o040000: 'd', 0o120000: 'l', 0o020000: 'c', 0o060000: 'b', 0o010000: 'p', 0o140000: 's' };
  const type = types[mode & 0o170000] ?? '-';
  const rwx = (bits: number, special: boolean, char: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? char : char.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return type + rwx(mode >> 6, !!(mode & 0o4000), 's') + rwx(mode >> 3, !!(mode & 0o2000), 's') + rwx(mode, !!(mode & 0o1000), 't');
}

function dateString(epoch: number): string {
  const d = new Date(epoch * 1000);
  const month = d.toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  const day = String(d.getUTCDate()).padStart(2);
  const recent = Math.abs(Date.now() - d.getTime()) < 180 * 86_400_000;
  const tail = recent ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}` : String(d.getUTCFullYear()).padStart(5);
  return `${month} ${day} ${tail}`;
}
