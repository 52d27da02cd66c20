/**
 * `tfnz dashboard`: a live web view of a location as one of its users sees it. The dashboard is an
 * SDK client (a session of yours, like `tfnz logs`): it shows what the SDK folds from the
 * location's events — every node with its stats, your tagged containers of your other sessions
 * (`tfnz run --tag`), the location's web endpoints — and follows a container's output on request.
 * It prints one URL (with a random token) on stdout and serves until Ctrl-C or SIGTERM.
 */
import { Location } from '../client/location';
import { defaultLocation } from '../client/accounts';
import { BadRequest } from '../protocol';
import { DashboardServer, assertLoopback } from './dashboard/dashboard-server';

export interface DashboardCommandOptions {
  location?: string;
  listen: string;
}

export async function dashboardCommand(opts: DashboardCommandOptions): Promise<void> {
  const { host, port } = parseListen(opts.listen);
  const target = opts.location ?? process.env.TFNZ_LOCATION ?? defaultLocation();
  if (!target || target === 'embedded') {
    process.stderr.write('tfnz dashboard: no location given, so it watches an embedded location of its own that no other tfnz process uses; pass --location (or set $TFNZ_LOCATION) to watch a shared one\n');
  }
  const loc = await Location.connect({ location: opts.location, quiet: true });
  let dashboard: DashboardServer;
  try {
    dashboard = await DashboardServer.start(loc, { host, port });
  } catch (err) {
    await loc.disconnect();
    throw err;
  }
  process.stdout.write(`${dashboard.url}\n`);
  process.stderr.write(`tfnz dashboard of ${loc.state.location ?? loc.url}: open the URL above (it holds the token; Ctrl-C ends it)\n`);
  const why = await new Promise<string | undefined>((resolve) => {
    process.once('SIGINT', () => resolve(undefined));
    process.once('SIGTERM', () => resolve(undefined));
    loc.state$.subscribe({ complete: () => resolve('the session with the location ended'), error: (err: Error) => resolve(err.message) });
  });
  await dashboard.close();
  await loc.disconnect().catch(() => undefined);
  if (why) throw new Error(why);
}

/** `host:port`, `[v6]:port` or a bare port (on 127.0.0.1); the host must be loopback. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new BadRequest(`--listen wants host:port or a port, e.g. 127.0.0.1:8080 (got '${listen}')`);
  return { host: assertLoopback(m[1] ?? '127.0.0.1'), port };
}
