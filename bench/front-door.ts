/**
 * Web endpoints — requests per second through the location's front door (one published nginx
 * cluster of one container, by host name) against two peers: the same requests straight to that
 * container's private IP, and through a real reverse proxy doing the front door's job (Debian's
 * nginx-light from the local nginx image, on the host's network, listening on loopback and
 * proxying by host name to the same container with kept-alive upstream connections).
 * CONCURRENCY keep-alive clients GET / for WINDOW_MS, bounded by MAX_REQUESTS too; runs rotate
 * over the three paths. The location runs as `tfnz location` in its own process, as it would in
 * production, so the front door does not share an event loop with the load; all of them (load,
 * location, proxy, nginx) share this machine's cores.
 */
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import type Docker from 'dockerode';
import { createInterface } from 'node:readline';
import { Cluster, Location } from '../lib/index';
import { BENCH_LABEL, waitForPort, type BenchContext } from './common';
import { figure, now, progress, summarise, withTimeout, type Figure } from './stats';

const CONCURRENCY = 16;
const WINDOW_MS = Number(process.env.BENCH_WEB_WINDOW_MS ?? 4000);
const MAX_REQUESTS = 200_000;
const RUNS = 3;
const FQDN = 'bench.localhost';

type Path = 'tfnz' | 'direct' | 'nginx';

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  const location = spawn(process.execPath, [
    '--import', 'tsx', 'lib/cli/main.ts', 'location', '--open', '-q', '--name', `bench-web-${process.pid}`,
    '--listen', '127.0.0.1:0', '--http-port', '0', '--https-port', '0',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await withTimeout(new Promise<string>((resolve) => createInterface({ input: location.stdout! }).once('line', resolve)), 60_000, 'starting tfnz location');
  const loc = await Location.connect({ location: url, quiet: true });
  const rates: Record<Path, number[]> = { tfnz: [], direct: [], nginx: [] };
  let proxy: Docker.Container | undefined;
  try {
    const node = loc.node();
    const ctr = node.spawnContainer('nginx');
    await withTimeout(ctr.waitHttp200(), 60_000, 'starting nginx');
    const endpoint = loc.endpointFor(FQDN);
    await endpoint.publish(new Cluster({ containers: [ctr] }), FQDN);
    await endpoint.waitHttp200(FQDN);
    const nginxPort = await freePort();
    proxy = await startNginxProxy(docker, nginxPort, ctr.privateIp!);
    await waitForPort('127.0.0.1', nginxPort, 30_000);
    const targets: Record<Path, { host: string; port: number }> = {
      tfnz: { host: '127.0.0.1', port: endpoint.httpPort },
      direct: { host: ctr.privateIp!, port: 80 },
      nginx: { host: '127.0.0.1', port: nginxPort },
    };
    // Warm every path (JIT, kept-alive sockets) before anything counts.
    for (const t of Object.values(targets)) await requestsPerSecond(t.host, t.port, 1000);
    const paths: Path[] = ['tfnz', 'direct', 'nginx'];
    const started = Date.now();
    for (let i = 0; i < RUNS && (i === 0 || Date.now() - started < budgetMs); i++) {
      for (let k = 0; k < paths.length; k++) {
        const path = paths[(i + k) % paths.length];
        rates[path].push(await requestsPerSecond(targets[path].host, targets[path].port));
      }
    }
    progress(`front-door: ${rates.tfnz.length} runs of ${WINDOW_MS / 1000}s each way, ${CONCURRENCY} clients`);
    await node.destroyContainer(ctr);
  } finally {
    await proxy?.remove({ force: true }).catch(() => undefined);
    await loc.disconnect();
    location.kill('SIGTERM');
  }
  return [
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'direct to private IP', floor: summarise(rates.direct), goal: ['≥', 0.5],
      note: 'through the front door by host name vs straight to the one container',
    }),
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients, vs a reverse proxy`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'nginx-light reverse proxy', floor: summarise(rates.nginx), goal: ['≥', 1],
      note: 'Debian nginx-light (worker_processes auto, upstream keepalive 32) proxying by host name to the same container',
    }),
  ];
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
 * Debian's nginx (the local nginx image is nginx-light from Debian) as a reverse proxy on the
 * host's network: listens on 127.0.0.1:`port`, passes requests for FQDN to `upstream`:80.
 */
async function startNginxProxy(docker: Docker, port: number, upstream: string): Promise<Docker.Container> {
  const conf = [
    'worker_processes auto; pid /tmp/nginx.pid; error_log stderr error;',
    'events { worker_connections 1024; }',
    'http { access_log off;',
    `  upstream site { server ${upstream}:80; keepalive 32; }`,
    `  server { listen 127.0.0.1:${port}; server_name ${FQDN};`,
    '    location / { proxy_pass http://site; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } } }',
  ].join('\n');
  const c = await docker.createContainer({
    Image: 'nginx:latest', Labels: { [BENCH_LABEL]: 'front-door' },
    Entrypoint: ['sh', '-c', 'printf "%s\\n" "$CONF" > /tmp/proxy.conf && exec nginx -c /tmp/proxy.conf -g "daemon off;"'],
    Cmd: [], Env: [`CONF=${conf}`],
    HostConfig: { NetworkMode: 'host', AutoRemove: false },
  });
  await c.start();
  return c;
}

/** Completed 200s per second over one window; any other answer or error fails the run. */
async function requestsPerSecond(host: string, port: number, windowMs = WINDOW_MS): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let done = 0;
  const t0 = now();
  const client = async () => {
    while (now() - t0 < windowMs && done < MAX_REQUESTS) {
      const status = await get(host, port, agent);
      if (status !== 200) throw new Error(`GET answered ${status}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const seconds = (now() - t0) / 1000;
  agent.destroy();
  return done / seconds;
}

function get(host: string, port: number, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: '/', agent, headers: { host: FQDN } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}
