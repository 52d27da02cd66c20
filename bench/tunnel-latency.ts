/**
 * Figure 3 — tunnel latency. A busybox echo server (nc -ll -e cat) in a container; one persistent
 * connection, 10 000 round trips of 16 bytes through `ctr.attachTunnel(9001)` against the floor of
 * the same round trips straight to ctr.privateIp:9001. Reports p50 and p99 of each, and the ratio.
 * The embedded location runs in this process (see tunnel-throughput.ts).
 */
import { Location } from '../lib/index';
import { ECHO_PORT, SERVERS_COMMAND, echoRoundTrips, waitForPort, type BenchContext } from './common';
import { figure, percentile, progress, summarise, withTimeout, type Figure, type Summary } from './stats';

const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 10_000);
const SIZE = 16;
const WARMUP = 500;
const RUNS = 3;

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  const loc = await Location.connect({ quiet: true });
  const p50 = { tfnz: [] as number[], direct: [] as number[] };
  const p99 = { tfnz: [] as number[], direct: [] as number[] };
  const all = { tfnz: [] as number[], direct: [] as number[] };
  try {
    const node = loc.node();
    const ctr = node.spawnContainer('busybox', { command: SERVERS_COMMAND });
    await withTimeout(ctr.ready(), 60_000, 'spawning the echo container');
    const ip = ctr.privateIp;
    if (!ip) throw new Error('the echo container has no private IP');
    await waitForPort(ip, ECHO_PORT);
    const tunnel = await ctr.attachTunnel(ECHO_PORT);
    const paths = { tfnz: ['127.0.0.1', tunnel.localPort] as const, direct: [ip, ECHO_PORT] as const };
    // Each run is bounded by count (ROUND_TRIPS) and time (a 1 ms average would be 10 s).
    const timeoutMs = Math.max(30_000, ROUND_TRIPS * 3);
    const measure = async (path: 'tfnz' | 'direct') => {
      const rtts = await echoRoundTrips(paths[path][0], paths[path][1], ROUND_TRIPS, SIZE, WARMUP, timeoutMs);
      p50[path].push(percentile(rtts, 50));
      p99[path].push(percentile(rtts, 99));
      all[path].push(...rtts);
    };
    const started = Date.now();
    let runs = 0;
    for (; runs < RUNS && (runs === 0 || Date.now() - started < budgetMs); runs++) {
      if (runs % 2 === 0) (await measure('tfnz'), await measure('direct'));
      else (await measure('direct'), await measure('tfnz'));
    }
    progress(`tunnel-latency: ${runs} runs of ${ROUND_TRIPS} round trips each way`);
    await node.destroyContainer(ctr);
  } finally {
    await loc.disconnect();
  }
  const pooled = (xs: number[], p: number) => Math.round(percentile(xs, p) * 10) / 10;
  const extra = {
    roundTripsPerRun: ROUND_TRIPS, bytes: SIZE,
    pooledUs: {
      tfnz: { p50: pooled(all.tfnz, 50), p90: pooled(all.tfnz, 90), p99: pooled(all.tfnz, 99), p999: pooled(all.tfnz, 99.9) },
      direct: { p50: pooled(all.direct, 50), p90: pooled(all.direct, 90), p99: pooled(all.direct, 99), p999: pooled(all.direct, 99.9) },
    },
  };
  const s = (xs: number[]): Summary => summarise(xs);
  return [
    figure({
      bench: 'tunnel', name: `round trip p50, ${SIZE} B × ${ROUND_TRIPS}`, unit: 'µs', better: 'lower',
      tfnz: s(p50.tfnz), floorName: 'direct to private IP', floor: s(p50.direct), extra,
      note: 'median/min/max are over runs of each run\'s p50 (and p99 below); pooled percentiles in results.json',
    }),
    figure({
      bench: 'tunnel', name: `round trip p99, ${SIZE} B × ${ROUND_TRIPS}`, unit: 'µs', better: 'lower',
      tfnz: s(p99.tfnz), floorName: 'direct to private IP', floor: s(p99.direct),
    }),
  ];
}
