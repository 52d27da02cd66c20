/**
 * Figure 3 — tunnel latency. A busybox echo server (nc -ll -e cat) in a container; one persistent
 * connection, 10 000 round trips of 16 bytes through `ctr.attachTunnel(9001)` of an embedded
 * location and of a remote one (`tfnz location` in its own process on this machine: direct, as a
 * user gets it, and with `directTunnels: false` through the location), through Docker's published
 * port of the same servers (docker-proxy), and, as the floor, straight to ctr.privateIp:9001.
 * Reports p50 and p99 of each against the floor. Runs rotate the order of the paths.
 */
import { Location } from '../lib/index';
import { ECHO_PORT, echoRoundTrips, settledPath, spawnServers, type BenchContext } from './common';
import { startPublishedServers, startRemoteLocation, type PublishedServers, type RemoteLocation } from './tunnel-peers';
import { figure, percentile, progress, summarise, type Figure } from './stats';

const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 10_000);
const SIZE = 16;
const WARMUP = 500;
const RUNS = 3;

const PATHS = ['tfnz', 'remote', 'relayed', 'dockerProxy', 'direct'] as const;
type Path = (typeof PATHS)[number];

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  let remoteLocation: RemoteLocation | undefined;
  let published: PublishedServers | undefined;
  const loc = await Location.connect({ quiet: true });
  let remote: Location | undefined;
  let relayed: Location | undefined;
  const perPath = () => Object.fromEntries(PATHS.map((p) => [p, [] as number[]])) as Record<Path, number[]>;
  const p50 = perPath();
  const p99 = perPath();
  const all = perPath();
  let embeddedPath = 'unknown';
  let remotePath = 'unknown';
  try {
    remoteLocation = await startRemoteLocation('bench-latency');
    remote = await Location.connect({ location: remoteLocation.url, quiet: true });
    relayed = await Location.connect({ location: remoteLocation.url, quiet: true, directTunnels: false });
    published = await startPublishedServers(docker);
    const [ctr, remoteCtr, relayedCtr] = await Promise.all([loc, remote, relayed].map((l) => spawnServers(l, [ECHO_PORT], 'the echo container')));
    const tunnel = await ctr.attachTunnel(ECHO_PORT);
    const remoteTunnel = await remoteCtr.attachTunnel(ECHO_PORT);
    const relayedTunnel = await relayedCtr.attachTunnel(ECHO_PORT);
    const paths: Record<Path, readonly [string, number]> = {
      tfnz: ['127.0.0.1', tunnel.localPort],
      remote: ['127.0.0.1', remoteTunnel.localPort],
      relayed: ['127.0.0.1', relayedTunnel.localPort],
      dockerProxy: ['127.0.0.1', published.echoPort],
      direct: [ctr.privateIp!, ECHO_PORT],
    };
    // Each run is bounded by count (ROUND_TRIPS) and time (a 1 ms average would be 10 s).
    const timeoutMs = Math.max(30_000, ROUND_TRIPS * 3);
    // A first connection on each direct tunnel, not recorded: it may hand the tunnel to the kernel.
    await echoRoundTrips(paths.tfnz[0], paths.tfnz[1], 1, SIZE, 0, timeoutMs);
    await echoRoundTrips(paths.remote[0], paths.remote[1], 1, SIZE, 0, timeoutMs);
    embeddedPath = await settledPath(tunnel);
    remotePath = await settledPath(remoteTunnel);
    const measure = async (path: Path) => {
      const rtts = await echoRoundTrips(paths[path][0], paths[path][1], ROUND_TRIPS, SIZE, WARMUP, timeoutMs);
      p50[path].push(percentile(rtts, 50));
      p99[path].push(percentile(rtts, 99));
      all[path].push(...rtts);
    };
    const started = Date.now();
    let runs = 0;
    for (; runs < RUNS && (runs === 0 || Date.now() - started < budgetMs); runs++) {
      for (let k = 0; k < PATHS.length; k++) await measure(PATHS[(runs + k) % PATHS.length]);
    }
    progress(`tunnel-latency: ${runs} runs of ${ROUND_TRIPS} round trips on each path`);
    await Promise.all([loc.node().destroyContainer(ctr), remote.node().destroyContainer(remoteCtr), relayed.node().destroyContainer(relayedCtr)]);
  } finally {
    await published?.remove();
    await remote?.disconnect();
    await relayed?.disconnect();
    remoteLocation?.stop();
    await loc.disconnect();
  }
  const pooled = (xs: number[], p: number) => Math.round(percentile(xs, p) * 10) / 10;
  const extra = {
    roundTripsPerRun: ROUND_TRIPS, bytes: SIZE,
    pooledUs: Object.fromEntries(PATHS.map((p) => [p, {
      p50: pooled(all[p], 50), p90: pooled(all[p], 90), p99: pooled(all[p], 99), p999: pooled(all[p], 99.9),
    }])),
  };
  const row = (pct: 'p50' | 'p99', values: Record<Path, number[]>, path: Path, where: string, goal?: number, note?: string) => figure({
    bench: 'tunnel', name: `round trip ${pct}, ${SIZE} B × ${ROUND_TRIPS}, ${where}`, unit: 'µs', better: 'lower',
    tfnz: summarise(values[path]), floorName: 'direct to private IP', floor: summarise(values.direct),
    goal: goal ? ['≤', goal] : undefined, note, extra: pct === 'p50' && path === 'tfnz' ? extra : undefined,
  });
  return [
    row('p50', p50, 'tfnz', 'embedded', 1.3, `median/min/max are over runs of each run's p50 (and p99 below); pooled percentiles in results.json; the embedded tunnel's path: ${embeddedPath}`),
    row('p99', p99, 'tfnz', 'embedded', 1.6),
    row('p50', p50, 'remote', 'remote location', 1.3, `remote: \`tfnz location\` in its own process on this machine, reached over a loopback WebSocket; its tunnel's path: ${remotePath}`),
    row('p99', p99, 'remote', 'remote location', 1.6),
    row('p50', p50, 'relayed', 'remote location, relayed (informational)', undefined, 'the same remote location with directTunnels: false: every byte through it, as from another machine'),
    row('p99', p99, 'relayed', 'remote location, relayed (informational)'),
    row('p50', p50, 'dockerProxy', 'docker-proxy (informational)', undefined, 'the peer itself: "tfnz" here is Docker\'s published port'),
    row('p99', p99, 'dockerProxy', 'docker-proxy (informational)'),
  ];
}
