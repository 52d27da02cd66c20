/**
 * Processes inside a Docker container: `docker exec` through dockerode, hijacked so stdin stays
 * writable. Docker has no "kill exec" call, so every process gets a unique marker in its
 * environment, which its children inherit; killing means SIGKILL to every process carrying it.
 */
import type Docker from 'dockerode';
import { streamEnded } from './docker-streams';
import { hijackOutput } from './docker-hijack';
import { randomUUID } from 'node:crypto';
import type { OutputStream } from '../protocol';
import type { ExecHandle, ExecSpec } from './engine';

const MARK = 'TFNZ_PROCESS';
/**
 * Runs inside the container with the marker as $1. Scans /proc for processes whose environment
 * holds it (tr, because busybox grep stops at the NULs of /proc/PID/environ) and kills them;
 * repeats while it finds any, so a child forked during a pass is caught by the next.
 */
const KILL_MARKED = `n=0; while [ $n -lt 5 ]; do found=; for f in /proc/[0-9]*/environ; do
  if tr '\\0' '\\n' < "$f" 2>/dev/null | grep -qxF "$1"; then p=\${f#/proc/}; kill -9 "\${p%/environ}" 2>/dev/null && found=1; fi
done; [ -z "$found" ] && exit 0; n=$((n+1)); done`;

export async function dockerExec(
  docker: Docker,
  options: Docker.DockerOptions,
  engineId: string,
  spec: ExecSpec,
  onOutput: (stream: OutputStream, data: Buffer) => void,
): Promise<ExecHandle> {
  const container = docker.getContainer(engineId);
  const mark = `${MARK}=${randomUUID()}`;
  const env = [...(spec.env ?? []).map(([k, v]) => `${k}=${v}`), ...(spec.tty ? ['TERM=xterm'] : []), mark];
  const exec = await container.exec({
    Cmd: spec.command, Env: env, Tty: spec.tty, AttachStdin: true, AttachStdout: true, AttachStderr: true,
    User: spec.user, WorkingDir: spec.workdir,
  });
  // On a connection of its own read with onread, as attach (docker-hijack.ts).
  const { socket, reader } = await hijackOutput(options, { method: 'POST', path: `/exec/${encodeURIComponent(exec.id)}/start`, body: { Detach: false, Tty: spec.tty } }, spec.tty, onOutput);
  const ended = streamEnded(socket);
  return {
    pause: () => reader.pause(),
    resume: () => reader.resume(),
    write: (data) => void socket.write(data),
    endStdin: () => socket.end(),
    resize: async (cols, rows) => void (await exec.resize({ w: cols, h: rows })),
    kill: async () => {
      const killer = await container.exec({ Cmd: ['/bin/sh', '-c', KILL_MARKED, 'tfnz-kill', mark], AttachStdout: true, AttachStderr: true });
      const out = await killer.start({});
      await new Promise<void>((resolve) => {
        out.on('end', resolve);
        out.on('close', resolve);
        out.on('error', () => resolve());
        out.resume();
      });
    },
    exited: ended.then(() => exitCode(exec)),
  };
}

/** The exit code, once Docker has recorded it (it can lag the end of the output stream a little). */
async function exitCode(exec: Docker.Exec): Promise<number | undefined> {
  for (let i = 0; i < 50; i++) {
    try {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
    } catch {
      return undefined; // the container is gone, and its execs with it
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

