import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { nanoid } from 'nanoid';
import type Docker from 'dockerode';
import { lastValueFrom, toArray } from 'rxjs';
import {
  ImageNotFound, Location, RegistryUnauthorized, RegistryUnreachable,
  type PullProgress, type RegistryAuth,
} from '../../lib/index';
import { ensureAccount } from '../../lib/client/accounts';
import type { EventFrame } from '../../lib/protocol';
import { buildMarkedImage, docker } from '../support/docker';
import { claimNodeEngines, nodeEngineAddress, nodeEngineDocker, releaseNodeEngines } from '../support/node-engines';
import { stopProcess } from '../support/processes';
import { freshHome, inHome } from '../support/home';
import { rawClient } from '../support/raw-client';
import { output } from '../support/container-output';

const run = promisify(execFile);

/**
 * Registry pulls on real parts: the loopback registry of scripts/registry.sh (TLS from its own CA,
 * htpasswd), a location in its own process whose only node is an extra engine that lacks the image,
 * and images built and pushed here that the client's engine no longer holds.
 */
describe('registry pulls: the node pulls from its registry with the user\'s credentials (#19)', function () {
  this.timeout(240_000);
  let ENGINES: number[] = [];
  let registry: string;
  let right: RegistryAuth;
  const wrong = () => ({ username: right.username, password: `wrong-${nanoid(12)}` });
  const wrongPasswords: string[] = [];
  const id = nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  let image: string;
  const markers = { first: `first ${nanoid()}`, moved: `moved ${nanoid()}` };
  const dirs: string[] = [];
  let dockerConfig: string;
  let node: Docker;
  let location: { child: ChildProcess; url: string; output: string[] };
  let home: string;
  let loc: Location;

  /** Build busybox plus a marker and 1 MiB of random bytes as `name`, push it, and forget it here. */
  async function pushImage(marker: string, name = image): Promise<void> {
    await buildMarkedImage(name, marker);
    await run('docker', ['--config', dockerConfig, 'push', name], { timeout: 120_000 });
    await docker.getImage(name).remove({ force: true });
  }

  /** Start `tfnz location` (not quiet: its whole log is kept, to look for passwords in it). */
  async function startLocation(cache: string): Promise<typeof location> {
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'lib/cli/main.ts', 'location', '--listen', '127.0.0.1:0', '--name', `spec-registry-${id}`, '--open',
      '--http-port', '0', '--https-port', '0', '--engine', nodeEngineAddress(ENGINES[0]), '--cache-dir', cache,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => output.push(l));
    const url = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (l) => resolve(l.trim()));
      rl.on('line', (l) => output.push(l));
      child.once('exit', (code) => reject(new Error(`location exited (${code}): ${output.join('\n')}`)));
    });
    return { child, url, output };
  }

  const connect = (opts: Parameters<typeof Location.connect>[0] = {}) =>
    inHome(home, () => Location.connect({ location: location.url, quiet: true, dockerConfig, ...opts }));

  before(async function () {
    this.timeout(300_000);
    const env = Object.fromEntries(
      (await run('bash', ['scripts/registry.sh', 'up'], { timeout: 240_000 }).then(() => run('bash', ['scripts/registry.sh', 'env'])))
        .stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    registry = env.REGISTRY;
    right = { username: env.REGISTRY_USER, password: env.REGISTRY_PASSWORD };
    image = `${registry}/tfnz-spec/app-${id}:1`;
    // A Docker config as `docker login` leaves it: auths with base64 user:password.
    dockerConfig = mkdtempSync(join(tmpdir(), 'tfnz-docker-config-'));
    dirs.push(dockerConfig);
    const auth = Buffer.from(`${right.username}:${right.password}`).toString('base64');
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry]: { auth } } }));
    ENGINES = await claimNodeEngines(1);
    node = nodeEngineDocker(ENGINES[0]);
    await pushImage(markers.first);
    const cache = mkdtempSync(join(tmpdir(), 'tfnz-registry-cache-'));
    dirs.push(cache);
    location = await startLocation(cache);
    home = freshHome('registry-owner');
    dirs.push(home);
    await inHome(home, () => ensureAccount(location.url));
    loc = await connect();
  });

  after(async function () {
    this.timeout(120_000);
    await loc?.disconnect();
    await stopProcess(location?.child);
    await releaseNodeEngines(ENGINES);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('refuses wrong or missing credentials, a missing tag and an unreachable registry, each by its typed error', async () => {
    const bad = wrong();
    wrongPasswords.push(bad.password);
    const withWrong = await connect({ registryAuth: { [registry]: bad } });
    const without = await connect({ dockerConfig: false });
    try {
      const refused = await withWrong.node().spawnContainer(image).ready().catch((e: Error) => e);
      expect(refused).to.be.instanceOf(RegistryUnauthorized);
      expect((refused as Error).message).to.include(registry).and.include('refused the credentials');
      const anonymous = await without.node().spawnContainer(image).ready().catch((e: Error) => e);
      expect(anonymous).to.be.instanceOf(RegistryUnauthorized);
      expect((anonymous as Error).message).to.include(`docker login ${registry}`);
      const missingTag = await loc.node().spawnContainer(`${registry}/tfnz-spec/app-${id}:no-such-tag`).ready().catch((e: Error) => e);
      expect(missingTag).to.be.instanceOf(ImageNotFound);
      expect((missingTag as Error).message).to.include('no-such-tag');
      const unreachable = await loc.node().spawnContainer('127.0.0.1:1/tfnz-spec/app:1').ready().catch((e: Error) => e);
      expect(unreachable).to.be.instanceOf(RegistryUnreachable);
      expect((unreachable as Error).message).to.include('127.0.0.1:1');
      expect(await node.getImage(image).inspect().catch(() => undefined), 'nothing was pulled').to.equal(undefined);
    } finally {
      await withWrong.disconnect();
      await without.disconnect();
    }
  });

  it('pulls an image neither the node nor the client holds, on the node, with the Docker config\'s credentials, showing progress', async () => {
    expect(await docker.getImage(image).inspect().catch(() => undefined), 'not in the client\'s engine').to.equal(undefined);
    const ctr = loc.node().spawnContainer(image, { command: ['cat', '/marker.txt'] });
    const progress = lastValueFrom(ctr.pull$.pipe(toArray()));
    expect(await output(ctr)).to.equal(markers.first);
    const seen = await progress;
    const last = seen[seen.length - 1];
    expect(last.phase).to.equal('done');
    expect(last.image).to.equal(image);
    expect(last.layersTotal, 'busybox and the marker layer').to.equal(2);
    expect(last.layersDone).to.equal(2);
    expect(last.bytesDone).to.equal(last.bytesTotal).and.be.greaterThan(2 ** 20);
    expect(seen.some((p) => p.phase === 'pulling'), 'progress while it pulled').to.equal(true);
    expect((await node.getImage(image).inspect()).RepoDigests!.some((d) => d.startsWith(`${registry}/tfnz-spec/app-${id}@`)), 'the node pulled it').to.equal(true);
    expect(await docker.getImage(image).inspect().catch(() => undefined), 'never through the client').to.equal(undefined);
  });

  it('does not let another user run the pulled image without the registry\'s consent', async () => {
    const mallory = await rawClient(location.url);
    try {
      expect((await mallory.request('open_session', { client: 'spec', user: 'mallory' })).error).to.equal(undefined);
      const offer = (await mallory.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame;
      const nodeId = (offer.params as { nodes: { id: string }[] }).nodes[0].id;
      const spawnAs = (extra: Record<string, unknown>) =>
        mallory.request('spawn_container', { container: nanoid(), node: nodeId, image, command: ['cat', '/marker.txt'], ...extra });
      const bad = wrong();
      wrongPasswords.push(bad.password);
      for (const extra of [{}, { pull: 'never' }, { registryAuth: bad }]) {
        expect((await spawnAs(extra)).error?.code, JSON.stringify(extra)).to.equal('REGISTRY_UNAUTHORIZED');
      }
      const pulled = await mallory.request('pull_image', { pull: nanoid(), node: nodeId, image });
      expect(pulled.error?.code).to.equal('REGISTRY_UNAUTHORIZED');
      // Knowing the image id is not enough either: with it, the SDK would upload (which she cannot).
      const imageId = (await node.getImage(image).inspect()).Id;
      expect((await spawnAs({ imageId })).error?.code).to.equal('IMAGE_NOT_FOUND');
      expect((await spawnAs({ image: imageId })).error?.code).to.equal('IMAGE_NOT_FOUND');
      // With the right credentials she may: the registry agrees, and nothing is pulled again.
      expect((await spawnAs({ registryAuth: right })).error).to.equal(undefined);
    } finally {
      mallory.ws.close();
    }
  });

  it('follows each pull policy (missing keeps what the node has, always pulls a moved tag, never does not pull) and digest pins', async () => {
    const firstDigest = (await node.getImage(image).inspect()).RepoDigests!.find((d) => d.startsWith(`${registry}/`))!;
    await pushImage(markers.moved); // the tag now names other content in the registry
    const missing = loc.node().spawnContainer(image, { command: ['cat', '/marker.txt'] });
    const missingPulls = lastValueFrom(missing.pull$.pipe(toArray()));
    expect(await output(missing), 'missing: the node\'s copy').to.equal(markers.first);
    expect(await missingPulls, 'missing: no pull').to.deep.equal([]);
    const always = loc.node().spawnContainer(image, { command: ['cat', '/marker.txt'], pull: 'always' });
    const alwaysPulls = lastValueFrom(always.pull$.pipe(toArray()));
    expect(await output(always), 'always: pulled again').to.equal(markers.moved);
    const pulled = (await alwaysPulls).at(-1)!;
    expect(pulled.phase).to.equal('done');
    expect(pulled.layers.filter((l) => l.status === 'Already exists').length, 'busybox was there').to.equal(1);
    const never = loc.node().spawnContainer(image, { command: ['cat', '/marker.txt'], pull: 'never' });
    expect(await output(never), 'never: what the node has').to.equal(markers.moved);
    // A digest pins the content whatever the tag says now.
    const pinned = loc.node().spawnContainer(firstDigest, { command: ['cat', '/marker.txt'] });
    expect(await output(pinned), `pinned by ${firstDigest}`).to.equal(markers.first);
    const absent = `${registry}/tfnz-spec/app-${id}-absent:1`;
    const err = await loc.node().spawnContainer(absent, { pull: 'never' }).ready().catch((e: Error) => e);
    expect(err).to.be.instanceOf(ImageNotFound);
    expect((err as Error).message).to.include("pull policy is 'never'");
  });

  it('loc.pullImage$ reports each layer and the total, and tfnz pull shows it', async () => {
    const other = `${registry}/tfnz-spec/app-${id}-progress:1`;
    await pushImage(`progress ${nanoid()}`, other);
    const seen: PullProgress[] = await lastValueFrom(loc.pullImage$(other).pipe(toArray()));
    const last = seen.at(-1)!;
    expect(last).to.deep.include({ image: other, phase: 'done', layersTotal: 2, layersDone: 2 });
    expect(last.node).to.equal(loc.node().id);
    expect(last.layers.map((l) => l.status).sort()).to.deep.equal(['Already exists', 'Pull complete']);
    expect(last.layers.find((l) => l.status === 'Pull complete')!.bytesTotal, 'the 1 MiB of random bytes, compressed').to.be.greaterThan(2 ** 20);
    expect(seen.filter((p) => p.phase === 'pulling').length, 'progress while it pulled').to.be.greaterThan(0);
    // Gone from the node again (its busybox layer stays): tfnz pull fetches it with a progress line.
    await node.getImage(other).remove({ force: true });
    const cli = ['--import', 'tsx', 'lib/cli/main.ts', 'pull', other, '--location', location.url];
    const env = { ...process.env, TFNZ_HOME: home, DOCKER_CONFIG: dockerConfig };
    const { stdout, stderr } = await run(process.execPath, cli, { timeout: 120_000, env });
    expect(stdout.trim()).to.equal(`${other} ${other}`);
    expect(stderr).to.match(new RegExp(`${other.replace(/[.]/g, '\\.')}: 2 layer\\(s\\), [0-9.]+ MiB pulled by node`));
    const empty = mkdtempSync(join(tmpdir(), 'tfnz-empty-config-'));
    dirs.push(empty);
    await node.getImage(other).remove({ force: true });
    const refused = await run(process.execPath, cli, { timeout: 120_000, env: { ...env, DOCKER_CONFIG: empty } }).then(() => undefined, (e: { stderr: string }) => e);
    expect(refused?.stderr).to.include('wants credentials');
  });

  it('tfnz run --pull always pulls before it runs, saying so', async () => {
    const cli = ['--import', 'tsx', 'lib/cli/main.ts', 'run', '--location', location.url, '--pull', 'always', image, 'cat', '/marker.txt'];
    const { stdout, stderr } = await run(process.execPath, cli, { timeout: 120_000, env: { ...process.env, TFNZ_HOME: home, DOCKER_CONFIG: dockerConfig } });
    expect(stdout).to.equal(markers.moved);
    expect(stderr).to.include(`${image}: already on node`);
    const bad = await run(process.execPath, [...cli.slice(0, 6), '--pull', 'sometimes', image], { timeout: 60_000, env: { ...process.env, TFNZ_HOME: home } })
      .then(() => undefined, (e: { stderr: string }) => e);
    expect(bad?.stderr).to.include('--pull wants missing, always or never');
  });

  it('never writes a password to the location\'s log, and the location keeps serving', async () => {
    expect(location.output.length, 'the location logged its sessions').to.be.greaterThan(3);
    const log = location.output.join('\n');
    for (const secret of [right.password, ...wrongPasswords, Buffer.from(`${right.username}:${right.password}`).toString('base64')]) {
      expect(log).to.not.include(secret);
    }
    expect(await output(loc.node().spawnContainer('busybox', { command: ['echo', 'still here'] }))).to.equal('still here');
  });
});
