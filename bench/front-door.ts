/**
 * Web endpoints — requests per second through the location's front door (one published nginx
 * cluster of one container, by host name) against two peers: the same requests straight to that
 * container's private IP, and through a real reverse proxy doing the front door's job (Debian's
 * nginx-light, the same package the nginx image holds, listening on loopback and proxying by host
 * name to the same container with kept-alive upstream connections). nginx runs as a plain host
 * process, as the location does: run in a container of its own it would sit in Docker's CPU
 * group beside the upstream container, and on a busy machine the kernel would then hand it and
 * its upstream CPU in one slice while the location waits in another, which measures the
 * scheduler rather than the proxies. A third, informational peer is a plain Node TCP relay in a
 * process of its own (tcp-relay-process.ts): bytes piped both ways, nothing parsed or routed. It
 * is the ceiling of any front door whose bytes pass through JS on this machine: on 2 cores it
 * reached 0.78-0.91 of nginx's rate (a relay reading both sides with `onread`, which net offers
 * only for sockets it connects, not for those a server accepts, came within ~5 % of it).
 * Debian's HAProxy in nginx's place, routing by a host-name map, reached 0.84-0.88 of nginx's
 * rate here (README, session 11): an off-the-shelf native data plane would not pass nginx either.
 * CONCURRENCY keep-alive clients GET / for WINDOW_MS; runs rotate over the four paths. The load
 * comes from wrk (Debian's, scripts/setup-bench-tools.sh) in its own process, the same for every
 * path: a C client on one thread, so the load takes little of the cores the proxies need (the Node
 * client this bench used before took about as much CPU as the front door itself, and ran in this
 * process). The location runs as `tfnz location` in its own process, as it would in production;
 * all of them (load, location, proxy, nginx) share this machine's cores.
 * Beside the rates, the CPU time each proxy process spent per request (from /proc, over the same
 * windows): on a busy machine the rates measure the scheduler as much as the proxies, the CPU per
 * request much less so. BENCH_LOCATION_NODE_ARGS adds node flags to the location (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the front door under this load),
 * BENCH_LOCATION_ARGS options of `tfnz location` (e.g. `--door-workers auto`).
 */
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Location } from '../lib/index';
import { firstLine } from '../spec/support/processes';
import { waitForPort, type BenchContext } from './common';
import { figure, median, progress, summarise, withTimeout, type Figure } from './stats';

const CONCURRENCY = 16;
const WINDOW_MS = Number(process.env.BENCH_WEB_WINDOW_MS ?? 4000);
const RUNS = 3;
const FQDN = 'bench.localhost';
const NGINX = '/usr/sbin/nginx';

type Path = 'tfnz' | 'direct' | 'nginx' | 'relay';

const run_ = promisify(execFile);

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  for (const tool of ['wrk', NGINX]) {
    await run_(tool, ['-v']).catch((err: NodeJS.ErrnoException) => {
      // wrk prints its usage and exits 1 for -v; only a missing binary is a problem.
      if (err.code === 'ENOENT') throw new Error(`${tool} is missing; run bash scripts/setup-bench-tools.sh (npm run bench does)`);
    });
  }
  const location = spawn(process.execPath, [
    ...(process.env.BENCH_LOCATION_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    '--import', 'tsx', 'lib/cli/main.ts', 'location', '--open', '-q', '--name', `bench-web-${process.pid}`,
    '--listen', '127.0.0.1:0', '--http-port', '0', '--https-port', '0',
    ...(process.env.BENCH_LOCATION_ARGS?.split(' ').filter(Boolean) ?? []),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await withTimeout(firstLine(location), 60_000, 'starting tfnz location');
  const loc = await Location.connect({ location: url, quiet: true });
  const rates: Record<Path, number[]> = { tfnz: [], direct: [], nginx: [], relay: [] };
  /** µs of CPU per request of the process(es) doing each path's proxying (direct: the location, idle but for its log relay). */
  const cpu: Record<Path, number[]> = { tfnz: [], direct: [], nginx: [], relay: [] };
  let proxy: { child: ChildProcess; dir: string } | undefined;
  let relay: { child: ChildProcess; port: number } | undefined;
  try {
    const node = loc.node();
    const ctr = node.spawnContainer('nginx');
    await withTimeout(ctr.waitHttp200(), 60_000, 'starting nginx');
    const endpoint = loc.endpointFor(FQDN);
    await endpoint.publish(new Cluster({ containers: [ctr] }), FQDN);
    await endpoint.waitHttp200(FQDN);
    const nginxPort = await freePort();
    proxy = await startNginxProxy(nginxPort, ctr.privateIp!);
    await waitForPort('127.0.0.1', nginxPort, 30_000);
    relay = await startRelayProcess(ctr.privateIp!);
    const nginxPids = () => [proxy!.child.pid!, ...childrenOf(proxy!.child.pid!)];
    // The location and its front-door workers (tfnz location --door-workers), as nginx's master and workers.
    const locationPids = () => [location.pid!, ...childrenOf(location.pid!).filter(isDoorWorker)];
    const targets: Record<Path, { host: string; port: number; pids: () => number[] }> = {
      tfnz: { host: '127.0.0.1', port: endpoint.httpPort, pids: locationPids },
      direct: { host: ctr.privateIp!, port: 80, pids: locationPids },
      nginx: { host: '127.0.0.1', port: nginxPort, pids: nginxPids },
      relay: { host: '127.0.0.1', port: relay.port, pids: () => [relay!.child.pid!] },
    };
    // Warm every path (JIT, kept-alive sockets) before anything counts.
    for (const t of Object.values(targets)) await load(t.host, t.port, 1000);
    const paths: Path[] = ['tfnz', 'direct', 'nginx', 'relay'];
    const started = Date.now();
    for (let i = 0; i < RUNS && (i === 0 || Date.now() - started < budgetMs); i++) {
      for (let k = 0; k < paths.length; k++) {
        const path = paths[(i + k) % paths.length];
        const pids = targets[path].pids();
        const before = cpuMicros(pids);
        const { rate, requests } = await load(targets[path].host, targets[path].port);
        rates[path].push(rate);
        cpu[path].push((cpuMicros(pids) - before) / requests);
      }
    }
    progress(`front-door: ${rates.tfnz.length} runs of ${WINDOW_MS / 1000}s each way, ${CONCURRENCY} clients`);
    await node.destroyContainer(ctr);
  } finally {
    if (proxy) await stopNginxProxy(proxy);
    relay?.child.kill('SIGKILL');
    await loc.disconnect();
    location.kill('SIGTERM');
  }
  return [
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'direct to private IP', floor: summarise(rates.direct), goal: ['≥', 0.5],
      note: 'through the front door by host name vs straight to the one container; load from wrk in its own process',
    }),
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients, vs a reverse proxy`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'nginx-light reverse proxy', floor: summarise(rates.nginx), goal: ['≥', 1],
      note: 'Debian nginx-light as a host process (worker_processes auto = one per core, upstream keepalive 32, access log off) proxying by host name to the same container; load from wrk in its own process',
    }),
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients, vs a plain Node relay (informational)`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'plain Node TCP relay', floor: summarise(rates.relay),
      note: `a Node process piping each connection to the container, no parsing, no routing, no log relay: what a JS hop costs on this path; it reached ${(median(rates.relay) / median(rates.nginx)).toFixed(2)} of nginx's rate in the same runs (${median(cpu.relay).toFixed(0)} µs of CPU per request)`,
      extra: { relayCpuMicros: summarise(cpu.relay) },
    }),
    figure({
      bench: 'web', name: 'CPU per proxied request: the location vs an nginx-light proxy', unit: 'µs', better: 'lower',
      tfnz: summarise(cpu.tfnz), floorName: 'nginx-light reverse proxy (all workers)', floor: summarise(cpu.nginx),
      note: `user+system CPU of the location process and its front-door workers over the front-door windows, per request, vs nginx's master and workers over theirs; the location also relays the container's access log line of each request to the session (${median(cpu.direct).toFixed(0)} µs per request measured while requests went direct)`,
      extra: { locationDuringDirectMicros: summarise(cpu.direct) },
    }),
  ];
}

/** user+system CPU time of these processes so far, in µs (Linux /proc; clock ticks of 10 ms). */
function cpuMicros(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10_000;
}

/** Direct children of `pid` (nginx's workers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone since the listing
    }
  }
  return out;
}

/** A front-door worker process of the location (front-door-worker.ts, or .js when built). */
function isDoorWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('front-door-worker');
  } catch {
    return false; // gone since the listing
  }
}

/** A loopback port nothing listens on now (nginx binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Debian's nginx-light as a reverse proxy, a host process like the location: listens on
 * 127.0.0.1:`port`, passes requests for FQDN to `upstream`:80 over kept-alive connections. One
 * worker per core (auto), as an operator would set it.
 */
async function startNginxProxy(port: number, upstream: string): Promise<{ child: ChildProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tfnz-bench-nginx-'));
  const conf = [
    `worker_processes auto; pid ${dir}/nginx.pid; error_log stderr error;`,
    'events { worker_connections 1024; }',
    'http { access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  upstream site { server ${upstream}:80; keepalive 32; }`,
    `  server { listen 127.0.0.1:${port}; server_name ${FQDN};`,
    '    location / { proxy_pass http://site; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } } }',
  ].join('\n');
  await writeFile(join(dir, 'proxy.conf'), `${conf}\n`);
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'proxy.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, dir };
}

/** The plain Node relay (tcp-relay-process.ts) in a process of its own, like the location and nginx, to `upstream`:80. */
async function startRelayProcess(upstream: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/tcp-relay-process.ts', upstream, '80'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await withTimeout(firstLine(child), 60_000, 'starting the Node relay')
    .catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
  return { child, port: Number(line) };
}

/** Stop the proxy (SIGQUIT: nginx's graceful stop, workers included) and remove its files. */
async function stopNginxProxy({ child, dir }: { child: ChildProcess; dir: string }): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGQUIT');
    await withTimeout(exited, 10_000, 'stopping nginx').catch(() => child.kill('SIGKILL'));
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * 2xx answers per second over one window and how many answers that was, from wrk in its own process (CONCURRENCY kept-alive
 * connections on one thread); any other answer or a socket error fails the run.
 */
async function load(host: string, port: number, windowMs = WINDOW_MS): Promise<{ rate: number; requests: number }> {
  const seconds = Math.max(1, Math.round(windowMs / 1000));
  const { stdout } = await run_('wrk', ['-t1', `-c${CONCURRENCY}`, `-d${seconds}s`, '--timeout', '10s', '-H', `Host: ${FQDN}`, `http://${host}:${port}/`], { timeout: (seconds + 30) * 1000 });
  const problems = /Non-2xx or 3xx responses: \d+|Socket errors: [^\n]*/.exec(stdout);
  if (problems) throw new Error(`GET http://${host}:${port}/ under load: ${problems[0]}`);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!rate) throw new Error(`wrk said no rate for http://${host}:${port}/: ${stdout.slice(0, 300)}`);
  const requests = /(\d+) requests in/.exec(stdout);
  return { rate: Number(rate[1]), requests: Number(requests?.[1] ?? 0) || 1 };
}
