/** Processes run inside a container: spawning, killing, their stdin and their pty's size. */
import { BadRequest, ProcessNotFound } from '../../protocol';
import type { ManagedProcess } from '../managed-process';
import type { Session } from '../session';
import type { CommandHandlers, MessageHandlers } from './handler';
import { reachable } from './ownership';

function ownProcess(s: Session, id: string): ManagedProcess {
  const visiting = s.visitingProcesses.get(id); // #20: tfnz exec into another session's container
  if (visiting) return visiting;
  for (const c of s.containers.values()) {
    const p = c.processes.get(id);
    if (p) return p;
  }
  throw new ProcessNotFound(`no process '${id}' in this session (it may have ended)`);
}

export const processCommands = {
  async spawn_process(s, p) {
    const id = p.process;
    const c = reachable(s, p.container); // #20: or one of the user's other sessions (tfnz exec)
    const tty = !!p.tty;
    if (p.command === undefined && !tty) throw new BadRequest("'command' is needed unless 'tty' asks for a shell");
    if ((p.cols === undefined) !== (p.rows === undefined)) throw new BadRequest("'cols' and 'rows' go together: give both or neither");
    if ([...s.containers.values()].some((other) => other.processes.has(id)) || s.visitingProcesses.has(id) || c.processes.has(id)) throw new BadRequest(`process id '${id}' is already in use`);
    const size = p.cols !== undefined && p.rows !== undefined ? { cols: p.cols, rows: p.rows } : undefined;
    const made = await c.spawnProcess(id, { command: p.command, tty, echo: !!p.echo, env: p.env ?? [], user: p.user, workdir: p.workdir, size }, { // #16: user, workdir, env
      output: (stream, data) => s.emit('process_output', { process: id, stream }, data),
      exit: (params) => s.emit('process_exit', params),
    });
    if (!s.containers.has(c.id)) {
      s.visitingProcesses.set(id, made);
      void made.ended.then(() => s.visitingProcesses.delete(id));
    }
    return {};
  },

  async destroy_process(s, p) {
    await ownProcess(s, p.process).destroy();
    return {};
  },
} satisfies Partial<CommandHandlers>;

export const processMessages = {
  process_stdin: (s, p, bulk) => ownProcess(s, p.process).write(bulk),
  process_stdin_end: (s, p) => ownProcess(s, p.process).endStdin(),
  process_resize: (s, p) => void ownProcess(s, p.process).resize(p.cols, p.rows).catch(() => undefined),
} satisfies Partial<MessageHandlers>;
