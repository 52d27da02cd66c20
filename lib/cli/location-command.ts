/** `tfnz location`: run a location server in the foreground until SIGINT/SIGTERM. */
import { DockerEngine } from '../engines/docker-engine';
import { LocationServer } from '../server/location-server';

export interface LocationCommandOptions {
  listen: string;
  name: string;
  engine: string[];
  statsInterval: string;
  quiet?: boolean;
}

export async function locationCommand(opts: LocationCommandOptions): Promise<void> {
  const [host, port] = splitHostPort(opts.listen);
  const log = opts.quiet ? () => undefined : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const engines = (opts.engine.length ? opts.engine : ['unix:///var/run/docker.sock']).map((a) => new DockerEngine(a));
  const server = await LocationServer.start({ name: opts.name, host, port, engines, statsIntervalMs: Number(opts.statsInterval), log });
  // The one line on stdout: where to connect (scripts and specs read it).
  process.stdout.write(`${server.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('shutting down: ending every session');
  await server.close();
}

function splitHostPort(listen: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen wants HOST:PORT, e.g. 127.0.0.1:2020 (got '${listen}')`);
  return [m[1] ?? m[2], Number(m[3])];
}
