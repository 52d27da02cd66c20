/**
 * `tfnz pull IMAGE`: the node pulls IMAGE from its registry (never through this machine), with the
 * credentials of your Docker config (docker login), showing its progress; prints the image id.
 */
import { lastValueFrom, tap } from 'rxjs';
import { Location } from '../client/location';
import type { PullPolicy } from '../protocol';
import { pullProgressBar } from './progress-bar';

export interface PullCommandOptions {
  location?: string;
  quiet?: boolean;
  /** --node: a node id (default the one with the most spare capacity). */
  node?: string;
  /** --always: pull even when the node has it. */
  always?: boolean;
}

export async function pullCommand(images: string[], opts: PullCommandOptions): Promise<void> {
  const loc = await Location.connect({ location: opts.location, quiet: true, handleSignals: true });
  try {
    const node = opts.node === undefined ? undefined : loc.rankedNodes().find((n) => n.id === opts.node || n.name === opts.node);
    if (opts.node !== undefined && !node) throw new Error(`no live node '${opts.node}'; these are: ${loc.rankedNodes().map((n) => n.id).join(', ')}`);
    const policy: PullPolicy = opts.always ? 'always' : 'missing';
    for (const image of images) {
      const bar = opts.quiet ? undefined : pullProgressBar();
      const last = await lastValueFrom(loc.pullImage$(image, { node, policy }).pipe(tap((p) => bar?.next(p))), { defaultValue: undefined });
      bar?.complete();
      process.stdout.write(`${image} ${last?.image ?? ''}\n`);
    }
  } finally {
    await loc.disconnect();
  }
}
