/**
 * Tunnels to a container on another host (issue #15). Builds the three-host test topology
 * (scripts/multi-host.sh, needs root; taken down again afterwards unless it was up already), runs
 * an embedded location whose only node is host 2's engine over TLS, and measures through
 * `ctr.attachTunnel` against the floor of direct TCP from here to the container's private IP over
 * the same link (the route to host 2's container range): throughput of BENCH_REMOTE_MB MiB (default
 * 256) on one connection, and BENCH_REMOTE_ROUND_TRIPS (default 2000) round trips of 16 bytes.
 * Also the CPU time this process spends per MiB and per round trip (the location and the SDK share
 * it here, so it is both Node relays and the data pipe's bookkeeping; direct: the sender alone):
 * on a 2-core machine shared with other work, wall-clock speed follows the load, CPU per byte much
 * less so. A third path, two plain Node relays in a row (loopback, then to the container), takes
 * the same socket hops as the tunnel without its data pipe: what the hops alone cost.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { promisify } from 'node:util';
import { Location } from '../lib/index';
import { DockerEngine, LocationServer } from '../lib/server/index';
import { ECHO_PORT, SINK_PORT, echoRoundTrips, sendBulk, spawnServers, type BenchContext } from './common';
import { startRelay } from './tcp-relay';
import { bounded, figure, percentile, progress, summarise, type Figure } from './stats';

const sh = promisify(execFile);
const MIB = 2 ** 20;
const SIZE_MB = Number(process.env.BENCH_REMOTE_MB ?? 256);
const ROUND_TRIPS = Number(process.env.BENCH_REMOTE_ROUND_TRIPS ?? 2000);
const RUNS = 3;
const SCRIPT = 'scripts/multi-host.sh';
const WARMUP_ROUND_TRIPS = 200;

/** User and system CPU ms this process spent since `since` (a process.cpuUsage()). */
const cpuMs = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  if (!(SIZE_MB > 0) || !(ROUND_TRIPS > 0)) throw new Error('BENCH_REMOTE_MB and BENCH_REMOTE_ROUND_TRIPS must be positive numbers');
  const wasUp = (await sh('bash', [SCRIPT, 'addresses']).then((r) => r.stdout, () => '')).includes('https://');
  const { stdout } = await sh('bash', [SCRIPT, 'up'], { timeout: 120_000 });
  const h2 = stdout.split('\n').find((l) => l.startsWith('https://10.252.0.12:'));
  if (!h2) throw new Error(`${SCRIPT} up printed no address for host 2`);
  const server = await LocationServer.start({ name: `bench-remote-${process.pid}`, port: 0, engines: [new DockerEngine(h2)] });
  const loc = await Location.connect({ location: server.url, quiet: true });
  const speed = { tfnz: [] as number[], direct: [] as number[], relays: [] as number[] };
  const p50 = { tfnz: [] as number[], direct: [] as number[], relays: [] as number[] };
  const cpuPerMib = { tfnz: [] as number[], direct: [] as number[], relays: [] as number[] };
  const cpuPerRoundTrip = { tfnz: [] as number[], direct: [] as number[], relays: [] as number[] };
  const relays: Server[] = [];
  try {
    const ctr = await spawnServers(loc, [SINK_PORT, ECHO_PORT], 'the sink and echo container on host 2');
    const ip = ctr.privateIp!;
    const sink = await ctr.attachTunnel(SINK_PORT);
    const echo = await ctr.attachTunnel(ECHO_PORT);
    const bytes = Math.round(SIZE_MB * MIB);
    const timeoutMs = Math.max(60_000, budgetMs);
    // Two relays in a row: the first stands for the SDK's half, the second for the location's.
    const relayChain = async (port: number) => {
      relays.push(await startRelay(ip, port));
      relays.push(await startRelay('127.0.0.1', (relays.at(-1)!.address() as AddressInfo).port));
      return (relays.at(-1)!.address() as AddressInfo).port;
    };
    const paths = {
      tfnz: { sink: ['127.0.0.1', sink.localPort], echo: ['127.0.0.1', echo.localPort] },
      direct: { sink: [ip, SINK_PORT], echo: [ip, ECHO_PORT] },
      relays: { sink: ['127.0.0.1', await relayChain(SINK_PORT)], echo: ['127.0.0.1', await relayChain(ECHO_PORT)] },
    } as const;
    const measure = async (path: 'tfnz' | 'direct' | 'relays') => {
      let cpu = process.cpuUsage();
      const ms = await sendBulk(paths[path].sink[0], paths[path].sink[1], bytes, timeoutMs);
      speed[path].push(bytes / MIB / (ms / 1000));
      cpuPerMib[path].push(cpuMs(cpu) / (bytes / MIB));
      cpu = process.cpuUsage();
      const rtts = await echoRoundTrips(paths[path].echo[0], paths[path].echo[1], ROUND_TRIPS, 16, WARMUP_ROUND_TRIPS, Math.max(30_000, ROUND_TRIPS * 5));
      cpuPerRoundTrip[path].push((cpuMs(cpu) * 1000) / (ROUND_TRIPS + WARMUP_ROUND_TRIPS));
      p50[path].push(percentile(rtts, 50));
    };
    await sendBulk('127.0.0.1', sink.localPort, 8 * MIB, 30_000); // warm-up, not recorded
    const n = await bounded(RUNS, budgetMs, async (i) => {
      const order = ['tfnz', 'direct', 'relays'] as const;
      for (let k = 0; k < order.length; k++) await measure(order[(i + k) % order.length]);
    }, 1);
    progress(`tunnel-remote: ${n} runs of ${SIZE_MB} MiB and ${ROUND_TRIPS} round trips each way`);
    await loc.node().destroyContainer(ctr);
  } finally {
    for (const relay of relays) relay.close();
    await loc.disconnect();
    await server.close();
    if (!wasUp) await sh('bash', [SCRIPT, 'down'], { timeout: 120_000 }).catch(() => undefined);
  }
  const note = 'location here, container on host 2 of scripts/multi-host.sh (a network namespace behind a veth bridge, engine over TLS)';
  return [
    figure({
      bench: 'tunnel', name: `throughput to another host, 1 connection, ${SIZE_MB} MiB`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(speed.tfnz), floorName: 'direct TCP across the same link', floor: summarise(speed.direct), note,
    }),
    figure({
      bench: 'tunnel', name: `round trip p50 to another host, 16 B × ${ROUND_TRIPS}`, unit: 'µs', better: 'lower',
      tfnz: summarise(p50.tfnz), floorName: 'direct TCP across the same link', floor: summarise(p50.direct),
    }),
    figure({
      bench: 'tunnel', name: `CPU per MiB to another host, 1 connection, ${SIZE_MB} MiB`, unit: 'ms/MiB', better: 'lower',
      tfnz: summarise(cpuPerMib.tfnz), floorName: 'direct TCP across the same link', floor: summarise(cpuPerMib.direct),
      note: 'user + system CPU of this process (SDK and location together; direct: the sender alone) per MiB sent',
    }),
    figure({
      bench: 'tunnel', name: `CPU per round trip to another host, 16 B`, unit: 'µs', better: 'lower',
      tfnz: summarise(cpuPerRoundTrip.tfnz), floorName: 'direct TCP across the same link', floor: summarise(cpuPerRoundTrip.direct),
    }),
    figure({
      bench: 'tunnel', name: `CPU per MiB to another host vs two plain Node relays (informational)`, unit: 'ms/MiB', better: 'lower',
      tfnz: summarise(cpuPerMib.tfnz), floorName: 'two Node relays in a row', floor: summarise(cpuPerMib.relays),
      note: 'floor = the same socket hops (loopback, then to the container) through socket.pipe, no data pipe: what the hops alone cost',
    }),
    figure({
      bench: 'tunnel', name: `CPU per round trip to another host vs two plain Node relays (informational)`, unit: 'µs', better: 'lower',
      tfnz: summarise(cpuPerRoundTrip.tfnz), floorName: 'two Node relays in a row', floor: summarise(cpuPerRoundTrip.relays),
    }),
    figure({
      bench: 'tunnel', name: `throughput to another host vs two plain Node relays (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(speed.tfnz), floorName: 'two Node relays in a row', floor: summarise(speed.relays),
    }),
  ];
}
