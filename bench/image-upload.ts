/**
 * Image upload — a large image (nginx plus a BENCH_IMAGE_MB layer of random bytes, built here)
 * goes from the default engine (the user's) to a second dockerd (the node), both on this machine:
 *
 *   tfnz:  a location whose only node is the second engine, an empty cache; the SDK's
 *          loc.ensureImageUploaded(image), then a spawn from it to running (the location loads
 *          the image from its cache into the node)
 *   floor: docker save IMAGE | docker -H node load, what an operator would do by hand
 *
 * Throughput is the image's size over the time. Each run starts with the node lacking the image
 * (and tfnz with an empty cache); runs alternate between the two sides.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { Location } from '../lib/index';
import { DockerEngine, LocationServer } from '../lib/server/index';
import { claimEngineNumbers, nodeEngineAddress, releaseEngineNumbers, startNodeEngine, stopNodeEngine } from '../spec/support/node-engines';
import type { BenchContext } from './common';
import { bounded, figure, now, progress, summarise, withTimeout, type Figure } from './stats';

const run$ = promisify(execFile);
const RUNS = Number(process.env.BENCH_IMAGE_RUNS ?? 3);
const EXTRA_MB = Number(process.env.BENCH_IMAGE_MB ?? 64);

export async function run({ docker, budgetMs }: BenchContext): Promise<Figure[]> {
  const image = `tfnz-bench-upload-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'tfnz-bench-image-'));
  const [n] = claimEngineNumbers(1);
  const tfnz = { total: [] as number[], upload: [] as number[] };
  const floor: number[] = [];
  let size = 0;
  try {
    writeFileSync(join(dir, 'random.bin'), randomBytes(EXTRA_MB * 2 ** 20));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM nginx:latest\nCOPY random.bin /\n');
    await run$('docker', ['build', '-q', '-t', image, dir], { timeout: 300_000 });
    const info = await docker.getImage(image).inspect();
    size = info.Size;
    progress(`image-upload: ${image} is ${(size / 2 ** 20).toFixed(1)} MiB in ${info.RootFS.Layers?.length} layers; starting node engine ${n}`);
    await startNodeEngine(n);
    const node = new Docker({ socketPath: `/run/tfnz/node${n}.sock` });
    const forget = () => node.getImage(info.Id).remove({ force: true }).catch(() => undefined);

    const viaTfnz = async () => {
      await forget();
      const cacheDir = mkdtempSync(join(tmpdir(), 'tfnz-bench-cache-'));
      const server = await LocationServer.start({ name: `bench-${process.pid}`, port: 0, engines: [new DockerEngine(nodeEngineAddress(n))], cacheDir });
      const loc = await Location.connect({ location: server.url, quiet: true });
      try {
        const t0 = now();
        await withTimeout(loc.ensureImageUploaded(image), 300_000, 'tfnz upload');
        const t1 = now();
        await withTimeout(loc.node().spawnContainer(image, { command: ['true'] }).ready(), 300_000, 'tfnz spawn from the cache');
        const t2 = now();
        tfnz.upload.push(t1 - t0);
        tfnz.total.push(t2 - t0);
      } finally {
        await loc.disconnect();
        await server.close();
        rmSync(cacheDir, { recursive: true, force: true });
      }
    };
    const viaDocker = async () => {
      await forget();
      const t0 = now();
      await run$('sh', ['-c', `docker save ${image} | docker -H ${nodeEngineAddress(n)} load -q`], { timeout: 300_000 });
      floor.push(now() - t0);
    };
    const runs = await bounded(RUNS, budgetMs, async (i) => {
      for (const side of i % 2 ? [viaDocker, viaTfnz] : [viaTfnz, viaDocker]) await side();
    }, 2);
    progress(`image-upload: ${runs} interleaved runs`);
    await forget();
  } finally {
    await stopNodeEngine(n).catch(() => undefined);
    releaseEngineNumbers([n]);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const mibps = (ms: number[]) => ms.map((t) => size / 2 ** 20 / (t / 1000));
  const mib = (size / 2 ** 20).toFixed(0);
  return [
    figure({
      bench: 'image-upload', name: `upload + first spawn, ${mib} MiB image, empty cache`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(mibps(tfnz.total)), floorName: 'docker save | docker load', floor: summarise(mibps(floor)), goal: ['≥', 0.8],
      note: 'tfnz: export, hash and spool the missing layers, send them over the session, verify, then docker load from the cache into the node',
      extra: { imageBytes: size },
    }),
    figure({
      bench: 'image-upload', name: `upload into the cache only, ${mib} MiB (informational)`, unit: 'MiB/s', better: 'higher',
      tfnz: summarise(mibps(tfnz.upload)), floorName: 'docker save | docker load', floor: summarise(mibps(floor)),
    }),
  ];
}
