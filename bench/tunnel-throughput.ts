/**
 * Figure 2 — tunnel throughput. A busybox container runs a TCP sink (nc -ll, one `cat >/dev/null`
 * per connection). We send BENCH_TUNNEL_MB MiB (default 1024, i.e. 1 GiB) through `ctr.attachTunnel(9000)`
 * (127.0.0.1:localPort) and, as the floor, straight to ctr.privateIp:9000 from the host. A transfer
 * ends when the sender has half-closed and the sink has closed: every byte was read in the container.
 * Then the same total over 8 concurrent connections (size / 8 each), timed from when all are open.
 * The embedded location runs in this process, so the tunnel's both ends share its one JS thread.
 */
import { Location } from '../lib/index';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SERVERS_COMMAND, SINK_PORT, connectSocket, pumpBulk, sendBulk, waitForPort, type BenchContext } from './common';
import { bounded, figure, now, progress, sleep, summarise, withTimeout, type Figure } from './stats';

const MIB = 2 ** 20;
/** 1 GiB: ~17 s per tunnelled run on a 2-core machine at ~60 MiB/s, which still fits the budget. */
const SIZE_MB = Number(process.env.BENCH_TUNNEL_MB ?? 1024);
const RUNS = 3;
const CONNECTIONS = 8;
const PACE_MS = 25;

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  if (!(SIZE_MB > 0)) throw new Error('BENCH_TUNNEL_MB must be a positive number');
  const bytes = Math.round(SIZE_MB * MIB);
  const perConn = Math.floor(bytes / CONNECTIONS);
  // One transfer may take the whole budget, no more: a stalled tunnel fails the figure, not the suite.
  const timeoutMs = Math.max(60_000, budgetMs);
  const loc = await Location.connect({ quiet: true });
  let relay: Server | undefined;
  const single = { tfnz: [] as number[], direct: [] as number[], relay: [] as number[] };
  const multi = { tfnz: [] as number[], direct: [] as number[] };
  try {
    const node = loc.node();
    const ctr = node.spawnContainer('busybox', { command: SERVERS_COMMAND });
    await withTimeout(ctr.ready(), 60_000, 'spawning the sink container');
    const ip = ctr.privateIp;
    if (!ip) throw new Error('the sink container has no private IP');
    await waitForPort(ip, SINK_PORT);
    const tunnel = await ctr.attachTunnel(SINK_PORT);
    relay = await startRelay(ip, SINK_PORT);
    const paths = {
      tfnz: ['127.0.0.1', tunnel.localPort] as const,
      direct: [ip, SINK_PORT] as const,
      relay: ['127.0.0.1', (relay.address() as AddressInfo).port] as const,
    };

    const one = async (path: 'tfnz' | 'direct' | 'relay') => {
      const ms = await sendBulk(paths[path][0], paths[path][1], bytes, timeoutMs);
      single[path].push(bytes / MIB / (ms / 1000));
    };
    // busybox nc has a tiny listen backlog: simultaneous connects lose SYNs and wait 1 s for the
    // retry. So connect one at a time, PACE_MS apart (the tunnel connects to the container behind
    // the local accept), then start the clock and send on all of them at once.
    const many = async (path: 'tfnz' | 'direct') => {
      const sockets: Socket[] = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        sockets.push(await connectSocket(paths[path][0], paths[path][1]));
        await sleep(PACE_MS);
      }
      const t0 = now();
      await Promise.all(sockets.map((s, i) => pumpBulk(s, perConn, timeoutMs, `${path} connection ${i}`)));
      multi[path].push((perConn * CONNECTIONS) / MIB / ((now() - t0) / 1000));
    };

    // Warm-up: a small transfer each way (first connection, JIT), not recorded.
    await sendBulk('127.0.0.1', tunnel.localPort, 8 * MIB, 30_000);
    await sendBulk(ip, SINK_PORT, 8 * MIB, 30_000);
    await sendBulk(paths.relay[0], paths.relay[1], 8 * MIB, 30_000);
    const start = now();
    const order = ['tfnz', 'direct', 'relay'] as const;
    const n1 = await bounded(RUNS, budgetMs / 2, async (i) => {
      for (let k = 0; k < order.length; k++) await one(order[(i + k) % order.length]);
    }, 1);
    const n2 = await bounded(RUNS, Math.max(0, budgetMs - (now() - start)), async (i) => {
      if (i % 2 === 0) (await many('tfnz'), await many('direct'));
      else (await many('direct'), await many('tfnz'));
    }, 1);
    progress(`tunnel-throughput: ${n1} single and ${n2} ${CONNECTIONS}-connection runs of ${SIZE_MB} MiB`);
    await node.destroyContainer(ctr);
  } finally {
    relay?.close();
    await loc.disconnect();
  }
  const note = `${SIZE_MB} MiB per run (BENCH_TUNNEL_MB)${SIZE_MB < 1024 ? ', less than the 1 GiB default' : ''}; ` +
    'the embedded location shares this process, so both tunnel ends share one JS thread';
  return [
    figure({
      bench: 'tunnel', name: `throughput, 1 connection, ${SIZE_MB} MiB`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(single.tfnz), floorName: 'direct to private IP', floor: summarise(single.direct),
      goal: ['≥', 0.5], note,
    }),
    figure({
      bench: 'tunnel', name: `throughput, 1 connection, ${SIZE_MB} MiB (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(single.tfnz), floorName: 'plain Node TCP relay', floor: summarise(single.relay),
      note: 'floor = an in-process net.Server piping each connection to the private IP: what one JS hop costs',
    }),
    figure({
      bench: 'tunnel', name: `throughput, ${CONNECTIONS} connections, ${SIZE_MB} MiB total`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(multi.tfnz), floorName: 'direct to private IP', floor: summarise(multi.direct),
      goal: ['≥', 0.5],
    }),
  ];
}

/** A plain in-process TCP relay to host:port (socket.pipe both ways, half-close preserved). */
function startRelay(host: string, port: number): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (inbound) => {
    const outbound = connect({ host, port, allowHalfOpen: true, noDelay: true });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
