import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lastValueFrom, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import type Docker from 'dockerode';
import { BuildFailed, ImageNotFound, Location, RegistryUnauthorized, type BuildProgress, type ConnectOptions } from '../../lib/index';
import { DockerEngine, LocationServer } from '../../lib/server/index';
import { claimNodeEngines, nodeEngineAddress, nodeEngineDocker, releaseNodeEngines } from '../support/node-engines';
import { docker, eventually } from '../support/docker';
import { output } from '../support/container-output';
import { connectAsFreshUser, inHome } from '../support/home';
import { tfnz } from '../support/tfnz-cli';

const run = promisify(execFile);

/**
 * Dockerfile builds on a node (#19), end to end: the client's engine is the default dockerd; the
 * location's only node is an extra dockerd that has busybox but not the base image built here, so
 * that base reaches the node only through an upload from the client's engine. Builds run with the
 * engine's classic builder, offline: every FROM resolves on the node.
 */
describe('builds: a Dockerfile built on a node from a local context, the image the user\'s', function () {
  this.timeout(240_000);
  let ENGINES: number[] = [];
  let node: Docker;
  const suffix = nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  /** Only on the client's engine: busybox plus a marker file. */
  const base = `tfnz-spec-build-base-${suffix}`;
  const baseMarker = `base ${nanoid()}`;
  const tag = `spec/built-${suffix}:1`;
  const dirs: string[] = [];
  let context: string;
  let server: LocationServer;
  let owner: Location;
  let other: Location;
  const builtIds: string[] = [];

  /** Connect as a user of our own: a fresh TFNZ_HOME holding an account for this location. */
  const homes: Record<string, string> = {};
  async function connectAs(user: string, opts: ConnectOptions = {}): Promise<Location> {
    const { loc, home } = await connectAsFreshUser(server.url, user, opts);
    dirs.push(home);
    homes[user] = home;
    return loc;
  }

  function contextDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-build-context-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  before(async function () {
    this.timeout(300_000);
    ENGINES = await claimNodeEngines(1);
    node = nodeEngineDocker(ENGINES[0]);
    const baseDir = contextDir({ 'marker.txt': `${baseMarker}\n`, Dockerfile: 'FROM busybox:latest\nCOPY marker.txt /\n' });
    await run('docker', ['build', '-q', '-t', base, baseDir], { timeout: 120_000 });
    const cacheDir = mkdtempSync(join(tmpdir(), 'tfnz-build-cache-'));
    dirs.push(cacheDir);
    server = await LocationServer.start({ name: `spec-build-${suffix}`, port: 0, engines: [new DockerEngine(nodeEngineAddress(ENGINES[0]))], cacheDir, sessionGraceMs: 2000 });
    owner = await connectAs('build-owner');
    other = await connectAs('build-other');
    // Two stages: the first from the local busybox (the node has its own), the last from an image
    // only the client's engine has, named by a build arg.
    context = contextDir({
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM busybox AS first',
        'ARG GREETING=unset',
        'RUN echo "$GREETING" > /greeting',
        'COPY . /ctx/',
        'FROM ${BASE} AS final',
        'COPY --from=first /greeting /greeting',
        'COPY --from=first /ctx /ctx',
        'CMD ["sh", "-c", "cat /greeting /marker.txt; ls /ctx"]',
        '',
      ].join('\n'),
      '.dockerignore': 'secret.txt\n*.log\n',
      'kept.txt': 'kept',
      'secret.txt': 'must not leave the client',
      'debug.log': 'must not leave the client either',
    });
  });

  after(async function () {
    this.timeout(300_000);
    await other?.disconnect();
    await owner?.disconnect();
    await server?.close();
    await releaseNodeEngines(ENGINES);
    await docker.getImage(base).remove({ force: true }).catch(() => undefined);
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('builds two stages with build args, uploading the base only the client has, and honours .dockerignore', async () => {
    expect(await node.getImage(base).inspect().catch(() => undefined), 'the node lacks the base').to.equal(undefined);
    const progress = await lastValueFrom(
      owner.buildImage$(context, { tag, buildArgs: { BASE: base, GREETING: 'hello from a build arg' } }).pipe(toArray()),
    );
    const built = progress.at(-1) as Extract<BuildProgress, { type: 'built' }>;
    expect(built).to.include({ type: 'built', tag });
    builtIds.push(built.image);
    expect(progress.filter((p) => p.type === 'base').map((p) => (p as { image: string }).image)).to.include(base);
    const steps = progress.filter((p): p is Extract<BuildProgress, { type: 'step' }> => p.type === 'step');
    expect(steps.map((s) => s.step)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(steps.every((s) => s.steps === 9)).to.equal(true);
    expect(steps[3].instruction).to.equal('RUN echo "$GREETING" > /greeting');
    expect(steps[5].instruction, 'the base by its name, not the id it was pinned to').to.equal(`FROM ${base} AS final`);
    const sent = progress.filter((p): p is Extract<BuildProgress, { type: 'context' }> => p.type === 'context').at(-1)!;
    expect(sent.bytesDone).to.equal(sent.bytesTotal);
    // The image on the node is untagged: the user's name never shows there.
    expect((await node.getImage(built.image).inspect()).RepoTags ?? []).to.deep.equal([]);

    const out = await output(owner.node().spawnContainer(tag));
    expect(out.split('\n')).to.deep.equal(['hello from a build arg', baseMarker, 'Dockerfile', 'kept.txt']);
  });

  it('builds up to a target stage', async () => {
    const targeted = `spec/built-first-${suffix}:1`;
    const { id } = await owner.buildImage(context, { tag: targeted, target: 'first', buildArgs: { GREETING: 'first stage' } });
    builtIds.push(id);
    const out = await output(owner.node().spawnContainer(targeted, { command: ['sh', '-c', 'cat /greeting; test -e /marker.txt || echo no marker'] }));
    expect(out.split('\n')).to.deep.equal(['first stage', 'no marker']);
  });

  it('a failing RUN rejects with BuildFailed naming the step and its output, and the session carries on', async () => {
    const failing = contextDir({ Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\nCMD ["true"]\n' });
    const err = await owner.buildImage(failing, { tag: `spec/failing-${suffix}:1` }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(BuildFailed);
    expect((err as Error).message).to.match(/step 2\/3 \(RUN echo about to fail && exit 3\) failed: .*non-zero code: 3/);
    expect((err as Error).message).to.include('about to fail');
    const spawn = owner.node().spawnContainer(`spec/failing-${suffix}:1`);
    expect(await spawn.ready().then(() => undefined, (e: unknown) => e), 'nothing was recorded').to.be.instanceOf(ImageNotFound);
    expect(await output(owner.node().spawnContainer(tag, { command: ['cat', '/greeting'] }))).to.equal('hello from a build arg');
  });

  it('a base that is nowhere is ImageNotFound, before any context is sent', async () => {
    const missing = contextDir({ Dockerfile: `FROM tfnz-spec-no-such-image-${suffix}\n` });
    const progress: BuildProgress[] = [];
    const err = await owner.buildImage(missing, { tag: `spec/none-${suffix}:1`, progress$: { next: (p) => progress.push(p) } })
      .then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ImageNotFound);
    expect((err as Error).message).to.include(`tfnz-spec-no-such-image-${suffix}`);
    expect(progress.some((p) => p.type === 'step')).to.equal(false);
  });

  it('unsubscribing from buildImage$ stops the build on the node, and nothing is recorded', async () => {
    const marker = `started-${suffix}`;
    const slow = contextDir({ Dockerfile: `FROM busybox\nRUN echo ${marker} && sleep 300\n` });
    const slowTag = `spec/slow-${suffix}:1`;
    await new Promise<void>((resolve) => {
      const sub = owner.buildImage$(slow, { tag: slowTag }).subscribe({
        next: (p) => {
          if (p.type !== 'output' || !p.text.includes(marker)) return;
          sub.unsubscribe();
          resolve();
        },
      });
    });
    // The step's container goes: nothing on the node runs the step any more.
    await eventually(async () => {
      const steps = (await node.listContainers({ all: true })).filter((c) => c.Command.includes(marker));
      expect(steps).to.deep.equal([]);
    }, 60_000);
    const spawn = owner.node().spawnContainer(slowTag);
    expect(await spawn.ready().then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ImageNotFound);
  });

  it('another user can neither spawn the built image by tag or id nor build from it', async () => {
    const byTag = other.node().spawnContainer(tag);
    expect(await byTag.ready().then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ImageNotFound);
    const id = builtIds[0];
    const byId = other.node().spawnContainer(id);
    expect(await byId.ready().then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ImageNotFound);
    // Nor by naming it in a Dockerfile, in full or by a prefix of its id, in FROM or COPY --from.
    for (const dockerfile of [`FROM ${id}\n`, `FROM ${id.slice(7, 19)}\n`, `FROM busybox\nCOPY --from=${id} /greeting /\n`]) {
      const dir = contextDir({ Dockerfile: dockerfile });
      const err = await other.buildImage(dir, { tag: `spec/stolen-${suffix}:1` }).then(() => undefined, (e: unknown) => e);
      expect(err, dockerfile).to.be.instanceOf(ImageNotFound);
    }
    // The owner still runs it.
    expect(await output(owner.node().spawnContainer(tag, { command: ['cat', '/greeting'] }))).to.equal('hello from a build arg');
  });

  it('tfnz build DIR -t NAME -f FILE --build-arg K=V --target T builds as the SDK does and prints the image id', async () => {
    const cliTag = `spec/cli-${suffix}:1`;
    const dockerfile = join(contextDir({ 'Other.dockerfile': 'FROM busybox AS one\nARG WORD\nRUN echo "cli $WORD" > /word\nFROM one AS two\nRUN echo two >> /word\n' }), 'Other.dockerfile');
    // The command inherits TFNZ_HOME as it starts: the owner's account.
    const { code, stdout, stderr } = await inHome(homes['build-owner'], () =>
      tfnz(['build', context, '-t', cliTag, '-f', dockerfile, '--build-arg', 'WORD=says hi', '--target', 'one', '--location', server.url]));
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(/^sha256:[0-9a-f]{64}\n$/);
    expect(stderr).to.include('step 3/3: RUN echo "cli $WORD" > /word');
    expect(stderr).to.include(`built ${cliTag}`);
    builtIds.push(stdout.trim());
    expect(await output(owner.node().spawnContainer(cliTag, { command: ['cat', '/word'] }))).to.equal('cli says hi');
  });

  it('a FROM only a registry holds is pulled by the node with the credentials for it; wrong ones are RegistryUnauthorized', async () => {
    // scripts/registry.sh (run by npm run prepare-engine; idempotent) pushes tfnz/busybox:1 and keeps no local copy of it.
    await run('bash', ['scripts/registry.sh', 'up'], { timeout: 240_000 });
    const env = Object.fromEntries((await run('bash', ['scripts/registry.sh', 'env'])).stdout.trim().split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const registry: string = env.REGISTRY;
    const dir = contextDir({ Dockerfile: `FROM ${registry}/tfnz/busybox:1\nRUN echo "from the registry" > /m\nCMD ["cat", "/m"]\n` });
    const wrong = await connectAs('build-pull-wrong', { dockerConfig: false, registryAuth: { [registry]: { username: env.REGISTRY_USER, password: `wrong-${nanoid()}` } } });
    try {
      const err = await wrong.buildImage(dir, { tag: `spec/pulled-${suffix}:1` }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(RegistryUnauthorized);
    } finally {
      await wrong.disconnect();
    }
    const right = await connectAs('build-pull-right', { dockerConfig: false, registryAuth: { [registry]: { username: env.REGISTRY_USER, password: env.REGISTRY_PASSWORD } } });
    try {
      const built = await right.buildImage(dir, { tag: `spec/pulled-${suffix}:1` });
      builtIds.push(built.id);
      expect(await output(right.node().spawnContainer(built.tag))).to.equal('from the registry');
    } finally {
      await right.disconnect();
    }
  });
});
