import { expect } from 'chai';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { BadRequest, ContainerNotRunning, ImageNotFound, Location, lines } from '../../lib/index';

describe('containers (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let loc: Location;

  before(async () => {
    loc = await Location.connect({ quiet: true });
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('spawns, runs, streams stdout and reports the exit code', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'echo hello; echo oops >&2; sleep 0.2; echo bye; exit 3'] });
    const statuses = lastValueFrom(ctr.status$.pipe(toArray()));
    const output = lastValueFrom(ctr.stdout$.pipe(toArray()));
    await ctr.ready();
    expect(ctr.privateIp).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await firstValueFrom(ctr.termination$)).to.equal(3);
    const chunks = await output;
    const text = (stream: string) => Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data)).toString();
    expect(text('stdout')).to.equal('hello\nbye\n');
    expect(text('stderr')).to.equal('oops\n');
    await loc.node().destroyContainer(ctr);
    expect(await statuses).to.deep.equal(['spawning', 'running', 'exited', 'destroyed']);
  });

  it('gives the exit code to subscribers that come after the end', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'exit 7'] });
    await firstValueFrom(ctr.termination$);
    expect(await firstValueFrom(ctr.termination$)).to.equal(7);
    expect(ctr.status).to.equal('exited');
  });

  it('composes stdout with RxJS operators, line by line', async () => {
    const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo line $i; done'] });
    const evens = await lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
    expect(evens).to.deep.equal(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
  });

  it('passes environment variables, as a record or as pairs', async () => {
    const ctr = loc.node().spawnContainer('busybox', { env: { GREETING: 'kia ora' }, command: ['sh', '-c', 'echo "$GREETING"'] });
    const out = await lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
    expect(out).to.deep.equal(['kia ora']);
  });

  it('rejects ready() with ImageNotFound for an image the engine does not have, and keeps serving', async () => {
    const ctr = loc.node().spawnContainer('no-such-image-anywhere:1');
    const err = await ctr.ready().then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(ImageNotFound);
    expect(err!.message).to.contain("'no-such-image-anywhere:1'").and.contain('build or load it');
    expect(ctr.status).to.equal('destroyed');
    const termination = await firstValueFrom(ctr.termination$).then(() => null, (e: Error) => e);
    expect(termination).to.be.instanceOf(ImageNotFound);
    const ok = loc.node().spawnContainer('busybox', { command: ['true'] });
    expect(await firstValueFrom(ok.termination$)).to.equal(0);
  });

  it('throws BadRequest at once for malformed options', () => {
    const node = loc.node();
    expect(() => node.spawnContainer('busybox', { command: 'echo hi' as unknown as string[] })).to.throw(BadRequest, /list of strings/);
    expect(() => node.spawnContainer('busybox', { env: [['A']] as unknown as [string, string][] })).to.throw(BadRequest, /env/);
    expect(() => node.spawnContainer('')).to.throw(BadRequest);
  });

  it('boots a sleeping container and runs its real command on start()', async () => {
    const ctr = loc.node().spawnContainer('busybox', { sleep: true, command: ['sh', '-c', 'echo awake; exit 4'] });
    const output = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
    await ctr.ready();
    expect(ctr.info.sleeping).to.equal(true);
    expect(ctr.status).to.equal('running');
    await ctr.start();
    expect(await firstValueFrom(ctr.termination$)).to.equal(4);
    expect(await output).to.deep.equal(['awake']);
  });

  it('delivers stdin to a container spawned with stdin: true', async () => {
    const ctr = loc.node().spawnContainer('busybox', { stdin: true, command: ['sh', '-c', 'read line; echo "got $line"'] });
    const output = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
    await ctr.ready();
    ctr.stdin('forty-two\n');
    expect(await output).to.deep.equal(['got forty-two']);
  });

  it('lists this session\'s live containers on a node', async () => {
    const node = loc.node();
    const a = node.spawnContainer('busybox', { command: ['sleep', '60'] });
    await a.ready();
    expect(node.allContainers()).to.include(a);
    await node.destroyContainer(a);
    expect(node.allContainers()).to.not.include(a);
    expect(await firstValueFrom(a.termination$)).to.equal(137);
  });

  it('tells a node.containers$ subscriber from before the spawn about the container and its end', async () => {
    const node = loc.node();
    const seen: string[][] = [];
    const sub = node.containers$.subscribe((list) => seen.push(list.map((c) => c.id)));
    try {
      const ctr = node.spawnContainer('busybox', { command: ['sleep', '60'] });
      await ctr.ready();
      expect(seen.at(-1)).to.include(ctr.id);
      await node.destroyContainer(ctr);
      expect(seen.at(-1), 'the last list it got leaves the destroyed container out').to.not.include(ctr.id);
      expect(node.allContainers()).to.not.include(ctr);
      expect(loc.allContainers().map((c) => c.id)).to.not.include(ctr.id);
    } finally {
      sub.unsubscribe();
    }
  });

  it('refuses work on a destroyed container with ContainerNotRunning', async () => {
    const node = loc.node();
    const gone = node.spawnContainer('busybox', { command: ['sleep', '60'] });
    await gone.ready();
    await node.destroyContainer(gone);
    const err = await gone.attachTunnel(80).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(ContainerNotRunning).with.property('message').that.contains('destroyed');
    await node.destroyContainer(gone); // a second destroy is harmless
  });
});
