/**
 * Figure 2 — tunnel throughput. A busybox container runs a TCP sink (nc -ll, one `cat >/dev/null`
 * per connection). We send BENCH_TUNNEL_MB MiB (default 1024, i.e. 1 GiB) through
 * `ctr.attachTunnel(9000)` (127.0.0.1:localPort) of an embedded location and of a remote one (`tfnz
 * location` in its own process on this machine: direct and kernel-forwarded like the embedded one,
 * as a user gets it; and, informational, with `directTunnels: false`, through the location as on
 * a location on another machine), and through its peers: Docker's own published port (docker-proxy,
 * tunnel-peers.ts) and, as the floor, straight to ctr.privateIp:9000 from the host. A transfer ends
 * when the sender has half-closed and the sink has closed: every byte was read in the container.
 * Then the same total over 8 concurrent connections (size / 8 each), timed from when all are open.
 * Runs rotate the order of the paths so drift in the machine's load hits every path alike.
 */
import { Location } from '../lib/index';
import type { AddressInfo, Server, Socket } from 'node:net';
import { startRelay } from './tcp-relay';
import { SINK_PORT, connectSocket, pumpBulk, sendBulk, settledPath, spawnServers, type BenchContext } from './common';
import { startPublishedServers, startRemoteLocation, type PublishedServers, type RemoteLocation } from './tunnel-peers';
import { bounded, figure, now, progress, sleep, summarise, type Figure } from './stats';

const MIB = 2 ** 20;
/** 1 GiB: ~17 s per tunnelled run on a 2-core machine at ~60 MiB/s, which still fits the budget. */
const SIZE_MB = Number(process.env.BENCH_TUNNEL_MB ?? 1024);
const RUNS = 3;
const CONNECTIONS = 8;
const PACE_MS = 25;

const SINGLE = ['tfnz', 'remote', 'relayed', 'dockerProxy', 'direct', 'relay'] as const;
const MULTI = ['tfnz', 'remote', 'relayed', 'dockerProxy', 'direct'] as const;
type Path = (typeof SINGLE)[number];

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  if (!(SIZE_MB > 0)) throw new Error('BENCH_TUNNEL_MB must be a positive number');
  const bytes = Math.round(SIZE_MB * MIB);
  const perConn = Math.floor(bytes / CONNECTIONS);
  // One transfer may take the whole budget, no more: a stalled tunnel fails the figure, not the suite.
  const timeoutMs = Math.max(60_000, budgetMs);
  let remoteLocation: RemoteLocation | undefined;
  let published: PublishedServers | undefined;
  let relay: Server | undefined;
  const loc = await Location.connect({ quiet: true });
  let remote: Location | undefined;
  let relayed: Location | undefined;
  const single = Object.fromEntries(SINGLE.map((p) => [p, [] as number[]])) as Record<Path, number[]>;
  const multi = Object.fromEntries(MULTI.map((p) => [p, [] as number[]])) as Record<Path, number[]>;
  let embeddedPath = 'unknown';
  let remotePath = 'unknown';
  try {
    remoteLocation = await startRemoteLocation('bench-tunnel');
    remote = await Location.connect({ location: remoteLocation.url, quiet: true });
    relayed = await Location.connect({ location: remoteLocation.url, quiet: true, directTunnels: false });
    published = await startPublishedServers(docker);
    const [ctr, remoteCtr, relayedCtr] = await Promise.all([loc, remote, relayed].map((l) => spawnServers(l, [SINK_PORT], 'the sink container')));
    const ip = ctr.privateIp!;
    const tunnel = await ctr.attachTunnel(SINK_PORT);
    const remoteTunnel = await remoteCtr.attachTunnel(SINK_PORT);
    const relayedTunnel = await relayedCtr.attachTunnel(SINK_PORT);
    relay = await startRelay(ip, SINK_PORT);
    const paths: Record<Path, readonly [string, number]> = {
      tfnz: ['127.0.0.1', tunnel.localPort],
      remote: ['127.0.0.1', remoteTunnel.localPort],
      relayed: ['127.0.0.1', relayedTunnel.localPort],
      dockerProxy: ['127.0.0.1', published.sinkPort],
      direct: [ip, SINK_PORT],
      relay: ['127.0.0.1', (relay.address() as AddressInfo).port],
    };

    const one = async (path: Path) => {
      const ms = await sendBulk(paths[path][0], paths[path][1], bytes, timeoutMs);
      single[path].push(bytes / MIB / (ms / 1000));
    };
    // busybox nc has a tiny listen backlog: simultaneous connects lose SYNs and wait 1 s for the
    // retry. So connect one at a time, PACE_MS apart (the tunnel connects to the container behind
    // the local accept), then start the clock and send on all of them at once.
    const many = async (path: Path) => {
      const sockets: Socket[] = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        sockets.push(await connectSocket(paths[path][0], paths[path][1]));
        await sleep(PACE_MS);
      }
      const t0 = now();
      await Promise.all(sockets.map((s, i) => pumpBulk(s, perConn, timeoutMs, `${path} connection ${i}`)));
      multi[path].push((perConn * CONNECTIONS) / MIB / ((now() - t0) / 1000));
    };

    // Warm-up: a small transfer on each path (first connection, JIT), not recorded.
    for (const path of SINGLE) await sendBulk(paths[path][0], paths[path][1], 8 * MIB, 30_000);
    embeddedPath = await settledPath(tunnel);
    remotePath = await settledPath(remoteTunnel);
    const start = now();
    const n1 = await bounded(RUNS, budgetMs / 2, async (i) => {
      for (let k = 0; k < SINGLE.length; k++) await one(SINGLE[(i + k) % SINGLE.length]);
    }, 1);
    const n2 = await bounded(RUNS, Math.max(0, budgetMs - (now() - start)), async (i) => {
      for (let k = 0; k < MULTI.length; k++) await many(MULTI[(i + k) % MULTI.length]);
    }, 1);
    progress(`tunnel-throughput: ${n1} single and ${n2} ${CONNECTIONS}-connection runs of ${SIZE_MB} MiB`);
    await Promise.all([loc.node().destroyContainer(ctr), remote.node().destroyContainer(remoteCtr), relayed.node().destroyContainer(relayedCtr)]);
  } finally {
    relay?.close();
    await published?.remove();
    await remote?.disconnect();
    await relayed?.disconnect();
    remoteLocation?.stop();
    await loc.disconnect();
  }
  const note = `${SIZE_MB} MiB per run (BENCH_TUNNEL_MB)${SIZE_MB < 1024 ? ', less than the 1 GiB default' : ''}; ` +
    `embedded: the location shares this process; its tunnel's path: ${embeddedPath}`;
  const remoteNote = `remote: \`tfnz location\` in its own process on this machine, reached over a loopback WebSocket; its tunnel's path: ${remotePath}`;
  const rows = (label: string, values: Record<Path, number[]>, first: string) => [
    figure({
      bench: 'tunnel', name: `${label}, embedded`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(values.tfnz), floorName: 'docker-proxy (published port)', floor: summarise(values.dockerProxy),
      goal: ['≥', 1], note: first,
    }),
    figure({
      bench: 'tunnel', name: `${label}, remote location`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(values.remote), floorName: 'docker-proxy (published port)', floor: summarise(values.dockerProxy),
      goal: ['≥', 1], note: remoteNote,
    }),
    figure({
      bench: 'tunnel', name: `${label}, remote location, relayed (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(values.relayed), floorName: 'docker-proxy (published port)', floor: summarise(values.dockerProxy),
      note: 'the same remote location with directTunnels: false: every byte through it on data connections, as from another machine',
    }),
    figure({
      bench: 'tunnel', name: `${label}, embedded vs direct (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(values.tfnz), floorName: 'direct to private IP', floor: summarise(values.direct),
    }),
    figure({
      bench: 'tunnel', name: `${label}, docker-proxy vs direct (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(values.dockerProxy), floorName: 'direct to private IP', floor: summarise(values.direct),
      note: 'the peer itself against the floor: "tfnz" here is docker-proxy',
    }),
  ];
  return [
    ...rows(`throughput, 1 connection, ${SIZE_MB} MiB`, single, note),
    figure({
      bench: 'tunnel', name: `throughput, 1 connection, ${SIZE_MB} MiB, embedded vs a Node relay (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(single.tfnz), floorName: 'plain Node TCP relay', floor: summarise(single.relay),
      note: 'floor = an in-process net.Server piping each connection to the private IP: what one JS hop costs',
    }),
    ...rows(`throughput, ${CONNECTIONS} connections, ${SIZE_MB} MiB total`, multi, `${SIZE_MB / CONNECTIONS} MiB on each connection`),
  ];
}
