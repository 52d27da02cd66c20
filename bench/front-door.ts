/**
 * Web endpoints — requests per second through the location's front door (one published nginx
 * cluster of one container, by host name) against the floor of the same requests straight to that
 * container's private IP. CONCURRENCY keep-alive clients GET / for WINDOW_MS, bounded by
 * MAX_REQUESTS too; runs alternate between the two paths. The location runs as `tfnz location`
 * in its own process, as it would in production, so the front door does not share an event loop
 * with the load; all three (load, location, nginx) share this machine's cores.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Cluster, Location } from '../lib/index';
import type { BenchContext } from './common';
import { figure, now, progress, summarise, withTimeout, type Figure } from './stats';

const CONCURRENCY = 16;
const WINDOW_MS = Number(process.env.BENCH_WEB_WINDOW_MS ?? 4000);
const MAX_REQUESTS = 200_000;
const RUNS = 3;
const FQDN = 'bench.localhost';

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  const location = spawn(process.execPath, [
    '--import', 'tsx', 'lib/cli/main.ts', 'location', '--open', '-q', '--name', `bench-web-${process.pid}`,
    '--listen', '127.0.0.1:0', '--http-port', '0', '--https-port', '0',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await withTimeout(new Promise<string>((resolve) => createInterface({ input: location.stdout! }).once('line', resolve)), 60_000, 'starting tfnz location');
  const loc = await Location.connect({ location: url, quiet: true });
  const rates = { tfnz: [] as number[], direct: [] as number[] };
  try {
    const node = loc.node();
    const ctr = node.spawnContainer('nginx');
    await withTimeout(ctr.waitHttp200(), 60_000, 'starting nginx');
    const endpoint = loc.endpointFor(FQDN);
    await endpoint.publish(new Cluster({ containers: [ctr] }), FQDN);
    await endpoint.waitHttp200(FQDN);
    const targets = {
      tfnz: { host: '127.0.0.1', port: endpoint.httpPort },
      direct: { host: ctr.privateIp!, port: 80 },
    };
    // Warm both paths (JIT, kept-alive sockets) before anything counts.
    for (const t of Object.values(targets)) await requestsPerSecond(t.host, t.port, 1000);
    const started = Date.now();
    for (let i = 0; i < RUNS && (i === 0 || Date.now() - started < budgetMs); i++) {
      const order: ('tfnz' | 'direct')[] = i % 2 ? ['direct', 'tfnz'] : ['tfnz', 'direct'];
      for (const path of order) {
        rates[path].push(await requestsPerSecond(targets[path].host, targets[path].port));
      }
    }
    progress(`front-door: ${rates.tfnz.length} runs of ${WINDOW_MS / 1000}s each way, ${CONCURRENCY} clients`);
    await node.destroyContainer(ctr);
  } finally {
    await loc.disconnect();
    location.kill('SIGTERM');
  }
  return [
    figure({
      bench: 'web', name: `GET / from nginx, ${CONCURRENCY} keep-alive clients`, unit: 'req/s', better: 'higher',
      tfnz: summarise(rates.tfnz), floorName: 'direct to private IP', floor: summarise(rates.direct), goal: ['≥', 0.5],
      note: 'through the front door by host name vs straight to the one container',
    }),
  ];
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
