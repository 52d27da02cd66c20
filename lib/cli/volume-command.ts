/**
 * `tfnz volume ls|create|rm|snapshot|rollback`: your persistent volumes at the location, as
 * `docker volume`. A volume is named by its uuid, tag or uuid:tag.
 */
import { Location } from '../client/location';
import { printJson, printTable, type LocationOption } from './output';

export interface VolumeLsOptions extends LocationOption {
  quiet?: boolean;
  json?: boolean;
}

/** Connect, do `work`, and always disconnect. */
async function withLocation(opts: LocationOption, work: (loc: Location) => Promise<void>): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true });
  try {
    await work(loc);
  } finally {
    await loc.disconnect();
  }
}

export const volumeLs = (opts: VolumeLsOptions) => withLocation(opts, async (loc) => {
  const volumes = loc.allVolumes().map((v) => ({ id: v.id, tag: v.tag, node: v.nodeId }));
  if (opts.json) return printJson(volumes);
  if (opts.quiet) return void process.stdout.write(volumes.map((v) => `${v.id}\n`).join(''));
  printTable(['VOLUME ID', 'TAG', 'NODE'], volumes.map((v) => [v.id, v.tag ?? '', loc.state.nodes[v.node]?.name ?? v.node]));
});

export const volumeCreate = (tag: string | undefined, opts: LocationOption) => withLocation(opts, async (loc) => {
  const v = await loc.createVolume({ tag });
  process.stdout.write(`${v.displayName}\n`);
});

export const volumeRm = (keys: string[], opts: LocationOption) => withLocation(opts, async (loc) => {
  for (const key of keys) {
    await loc.destroyVolume(loc.volume(key));
    process.stdout.write(`${key}\n`);
  }
});

export const volumeSnapshot = (key: string, opts: LocationOption) => withLocation(opts, (loc) => loc.volume(key).snapshot());

export const volumeRollback = (key: string, opts: LocationOption) => withLocation(opts, (loc) => loc.volume(key).rollback());
