/**
 * `tfnz ps`: your containers across all of your sessions at the location (never another user's),
 * as `docker ps`: running ones, `-a` all, `-q` only ids, `--json` for scripts.
 */
import { Location } from '../client/location';
import { ago, printJson, printTable, type LocationOption } from './output';

export interface PsCommandOptions extends LocationOption {
  all?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export async function psCommand(opts: PsCommandOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    const containers = (await loc.userContainers({ all: opts.all })).sort((a, b) => b.created - a.created);
    if (opts.json) return printJson(containers);
    if (opts.quiet) return void process.stdout.write(containers.map((c) => `${c.id}\n`).join(''));
    const nodeName = (id: string) => loc.state.nodes[id]?.name ?? id;
    printTable(['CONTAINER ID', 'TAG', 'IMAGE', 'NODE', 'STATUS', 'CREATED', 'PORTS', 'SESSION'], containers.map((c) => [
      c.id, c.tag ?? '', c.image, nodeName(c.node), c.status === 'exited' ? `exited (${c.exitCode ?? '?'})` : c.status, ago(c.created),
      c.ports.map((p) => `${p}/tcp`).join(', '), c.detached ? 'detached' : c.session,
    ]));
  } finally {
    await loc.disconnect();
  }
}
