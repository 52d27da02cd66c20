/** `tfnz node ls`: the location's nodes, best first, with their latest sampled idle cpu, free memory, paging and containers. */
import { Location } from '../client/location';
import { rankNodes } from '../client/ranking';
import { printJson, printTable, type LocationOption } from './output';

export interface NodeLsOptions extends LocationOption {
  json?: boolean;
  quiet?: boolean;
}

export async function nodeLs(opts: NodeLsOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    const nodes = rankNodes(Object.values(loc.state.nodes)); // best first, as loc.node() picks
    if (opts.json) return printJson(nodes);
    if (opts.quiet) return void process.stdout.write(nodes.map((n) => `${n.id}\n`).join(''));
    // The location reports spare capacity: idle cpu in hundredths of a core, available memory in MiB.
    printTable(['NODE ID', 'NAME', 'STATUS', 'IDLE CPUS', 'FREE MEMORY', 'PAGING/S', 'CONTAINERS'], nodes.map((n) => [
      n.id, n.name, n.alive ? 'ready' : 'gone', (n.stats.cpu / 100).toFixed(2), `${n.stats.memory} MiB`, String(n.stats.paging), String(n.stats.containers),
    ]));
  } finally {
    await loc.disconnect();
  }
}
