/**
 * Registry pull — the ~100 MiB image `scripts/registry.sh bench-image` pushes (127.0.0.1:5443/tfnz/bench:100m:
 * busybox plus four layers of 25 MiB of random bytes) pulled from the loopback registry (TLS,
 * htpasswd) onto a second dockerd (the node), both on this machine:
 *
 *   tfnz:  a location whose only node is that engine; loc.pullImage$(image) to completion (the
 *          node's engine pulls, with credentials sent over the session for that pull)
 *   floor: docker -H node pull IMAGE, with a docker login of its own, on the same engine
 *
 * Each run starts with the node lacking the image's own layers (busybox's stays); runs alternate.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { lastValueFrom } from 'rxjs';
import { Location } from '../lib/index';
import { DockerEngine, LocationServer } from '../lib/server/index';
import { claimEngineNumbers, nodeEngineAddress, releaseEngineNumbers, startNodeEngine, stopNodeEngine } from '../spec/support/node-engines';
import type { BenchContext } from './common';
import { bounded, figure, now, progress, summarise, withTimeout, type Figure } from './stats';

const run$ = promisify(execFile);
const RUNS = Number(process.env.BENCH_PULL_RUNS ?? 3);

export async function run({ budgetMs }: BenchContext): Promise<Figure[]> {
  await run$('bash', ['scripts/registry.sh', 'bench-image'], { timeout: 300_000 });
  const env = Object.fromEntries(
    (await run$('bash', ['scripts/registry.sh', 'env'])).stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const image = `${env.REGISTRY}/tfnz/bench:100m`;
  const auth = { username: env.REGISTRY_USER, password: env.REGISTRY_PASSWORD };
  const config = mkdtempSync(join(tmpdir(), 'tfnz-bench-docker-config-'));
  const [n] = claimEngineNumbers(1);
  const tfnz: number[] = [];
  const floor: number[] = [];
  let bytes = 0;
  let server: LocationServer | undefined;
  let loc: Location | undefined;
  const cacheDir = mkdtempSync(join(tmpdir(), 'tfnz-bench-cache-'));
  try {
    await run$('sh', ['-c', `printf %s "$PW" | docker --config ${config} login -u ${auth.username} --password-stdin ${env.REGISTRY} >/dev/null 2>&1`], {
      timeout: 60_000, env: { ...process.env, PW: auth.password },
    });
    progress(`registry-pull: starting node engine ${n}`);
    await startNodeEngine(n);
    const node = new Docker({ socketPath: `/run/tfnz/node${n}.sock` });
    const forget = () => node.getImage(image).remove({ force: true }).catch(() => undefined);
    server = await LocationServer.start({ name: `bench-pull-${process.pid}`, port: 0, engines: [new DockerEngine(nodeEngineAddress(n))], cacheDir });
    loc = await Location.connect({ location: server.url, quiet: true, registryAuth: { [env.REGISTRY]: auth }, dockerConfig: false });
    const session = loc;

    const viaTfnz = async () => {
      await forget();
      const t0 = now();
      const last = await withTimeout(lastValueFrom(session.pullImage$(image)), 300_000, 'tfnz pull');
      tfnz.push(now() - t0);
      bytes = last.bytesTotal;
    };
    const viaDocker = async () => {
      await forget();
      const t0 = now();
      await run$('docker', ['--config', config, '-H', nodeEngineAddress(n), 'pull', '-q', image], { timeout: 300_000 });
      floor.push(now() - t0);
    };
    const runs = await bounded(RUNS, budgetMs, async (i) => {
      for (const side of i % 2 ? [viaDocker, viaTfnz] : [viaTfnz, viaDocker]) await side();
    }, 2);
    progress(`registry-pull: ${runs} interleaved runs of ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    await forget();
  } finally {
    await loc?.disconnect().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await stopNodeEngine(n).catch(() => undefined);
    releaseEngineNumbers([n]);
    rmSync(config, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }
  const mibps = (ms: number[]) => ms.map((t) => bytes / 2 ** 20 / (t / 1000));
  return [
    figure({
      bench: 'registry-pull', name: `pull of a ${(bytes / 2 ** 20).toFixed(0)} MiB image onto a node, loopback registry (TLS, htpasswd)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(mibps(tfnz)), floorName: 'docker pull on the same engine', floor: summarise(mibps(floor)),
      note: 'tfnz: loc.pullImage$ over the session; the node\'s engine pulls with the session\'s credentials and reports progress per layer',
      extra: { imageBytes: bytes },
    }),
  ];
}
