/**
 * `tfnz build DIR -t NAME`: `docker build`, but on a node of the location. The image becomes
 * yours there (spawn it by NAME with `tfnz run NAME` or the SDK); only its id is printed on stdout.
 */
import { resolve } from 'node:path';
import { BadRequest } from '../protocol';
import { Location } from '../client/location';
import { buildProgressDisplay } from './build-progress';
import { progressBar } from './progress-bar';

export interface BuildCommandOptions {
  tag: string;
  file?: string;
  buildArg: string[];
  target?: string;
  location?: string;
  node?: string;
  quiet?: boolean;
}

/** `K=V` as given, `K` alone from this environment (as docker build --build-arg does). */
export function parseBuildArgs(given: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const arg of given) {
    const at = arg.indexOf('=');
    const name = at < 0 ? arg : arg.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BadRequest(`--build-arg ${arg}: write NAME=value (or NAME to copy it from this environment)`);
    if (at >= 0) args[name] = arg.slice(at + 1);
    else if (process.env[name] !== undefined) args[name] = process.env[name];
  }
  return args;
}

export async function buildCommand(dir: string, opts: BuildCommandOptions): Promise<void> {
  const buildArgs = parseBuildArgs(opts.buildArg);
  const loc = await Location.connect({ location: opts.location, quiet: true, handleSignals: true });
  const uploads = opts.quiet ? undefined : loc.uploads$.subscribe(progressBar());
  try {
    const built = await loc.buildImage(dir, {
      tag: opts.tag,
      // -f is relative to where tfnz runs, as docker build's is.
      dockerfile: opts.file === undefined ? undefined : resolve(opts.file),
      buildArgs,
      target: opts.target,
      node: opts.node,
      progress$: opts.quiet ? undefined : buildProgressDisplay(),
    });
    process.stdout.write(`${built.id}\n`);
  } finally {
    uploads?.unsubscribe();
    await loc.disconnect();
  }
}
