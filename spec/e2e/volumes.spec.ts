import { expect } from 'chai';
import { firstValueFrom, filter, lastValueFrom, toArray } from 'rxjs';
import { nanoid } from 'nanoid';
import { BadRequest, InvalidTag, Location, NotFound, TagInUse, VolumeInUse, lines, type Volume } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { rawClient } from '../support/raw-client';

/** Run a shell command in a fresh busybox with the volume at /data; its stdout lines and exit code. */
async function runWith(loc: Location, volume: Volume, script: string): Promise<{ out: string[]; code: number }> {
  const node = loc.rankedNodes().find((n) => n.id === volume.nodeId)!;
  const ctr = node.spawnContainer('busybox', { volumes: [[volume, '/data']], command: ['sh', '-c', script] });
  const out = lastValueFrom(ctr.stdout$.pipe(lines(), toArray()));
  const code = await firstValueFrom(ctr.termination$);
  await node.destroyContainer(ctr);
  return { out: await out, code };
}

describe('volumes (real location, real Docker volumes)', function () {
  this.timeout(90_000);
  const name = `spec-vol-${nanoid(6)}`;
  const tag = (what: string) => `${what}-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  let server: LocationServer;
  let loc: Location;
  const made: string[] = [];

  const connect = () => Location.connect({ location: server.url, quiet: true });
  const create = async (l: Location, t?: string) => {
    const v = await l.createVolume({ tag: t });
    made.push(v.id);
    return v;
  };

  before(async () => {
    server = await LocationServer.start({ name, port: 0 });
    loc = await connect();
  });
  after(async () => {
    for (const id of made) await loc.destroyVolume(id).catch(() => undefined);
    await loc?.disconnect();
    await server?.close();
  });

  it('finds a volume by uuid, by tag and by uuid:tag', async () => {
    const t = tag('db');
    const v = await create(loc, t);
    expect(v.displayName).to.equal(`${v.id}:${t}`);
    expect(loc.volume(t)).to.equal(v);
    expect(loc.volume(v.id)).to.equal(v);
    expect(loc.volume(v.displayName)).to.equal(v);
    expect(loc.allVolumes()).to.include(v);
    expect(await loc.ensureVolume(t)).to.equal(v);
    expect(() => loc.volume('no-such-volume')).to.throw(NotFound, /ensureVolume/);
  });

  it('refuses a tag in use and a tag that breaks the rules, before creating anything', async () => {
    const t = tag('unique');
    await create(loc, t);
    const before = loc.allVolumes().length;
    expect(await loc.createVolume({ tag: t }).catch((e: Error) => e)).to.be.instanceOf(TagInUse);
    const bad = await loc.createVolume({ tag: 'has space' }).catch((e: Error) => e);
    expect(bad).to.be.instanceOf(InvalidTag).with.property('message').that.contains("has ' '");
    expect(loc.allVolumes()).to.have.length(before);
  });

  it('keeps data between containers and sessions, and outlives the session that made it', async () => {
    const other = await connect();
    const v = await create(other, tag('keep'));
    expect((await runWith(other, v, 'echo kept > /data/note; exit 0')).code).to.equal(0);
    await other.disconnect();
    const later = await connect();
    try {
      const again = later.volume(v.id);
      expect((await runWith(later, again, 'cat /data/note')).out).to.deep.equal(['kept']);
    } finally {
      await later.disconnect();
    }
  });

  it('shows volumes made and destroyed by one session in the other sessions of the same user, live', async () => {
    const watcher = await connect();
    try {
      const t = tag('live');
      const appeared = firstValueFrom(watcher.volumes$.pipe(filter((vs) => Object.values(vs).some((v) => v.tag === t))));
      const v = await create(loc, t);
      await appeared;
      expect(watcher.volume(t).id).to.equal(v.id);
      const gone = firstValueFrom(watcher.volumes$.pipe(filter((vs) => !vs[v.id])));
      await loc.destroyVolume(v);
      await gone;
      expect(() => watcher.volume(t)).to.throw(NotFound);
    } finally {
      await watcher.disconnect();
    }
  });

  it('hides one user\'s volumes from another, even by uuid', async () => {
    const v = await create(loc, tag('private'));
    const mallory = await rawClient(server.url);
    await mallory.request('open_session', { client: 'spec', user: 'mallory' });
    const offer = await mallory.next((f) => f.kind === 'event' && f.event === 'resource_offer');
    expect((offer as { params: { volumes: unknown[] } }).params.volumes).to.deep.equal([]);
    expect((await mallory.request('destroy_volume', { volume: v.id })).error?.code).to.equal('NOT_FOUND');
    const hers = await mallory.request('create_volume', { tag: v.tag });
    expect(hers.error, 'tags are per user').to.equal(undefined);
    await mallory.request('destroy_volume', { volume: (hers.result as { volume: { id: string } }).volume.id });
    mallory.ws.close();
    expect(loc.volume(v.id)).to.equal(v);
  });

  it('rolls back to the snapshot, verified by content', async () => {
    const v = await create(loc, tag('snap'));
    await runWith(loc, v, 'echo one > /data/f');
    await v.snapshot();
    await runWith(loc, v, 'echo two > /data/f; echo extra > /data/g');
    expect((await runWith(loc, v, 'cat /data/f /data/g')).out).to.deep.equal(['two', 'extra']);
    await v.rollback();
    const after = await runWith(loc, v, 'cat /data/f; ls /data');
    expect(after.out).to.deep.equal(['one', 'f']);
  });

  it('refuses to snapshot, roll back or destroy a volume a container is using, and says which', async () => {
    const v = await create(loc, tag('busy'));
    const node = loc.rankedNodes().find((n) => n.id === v.nodeId)!;
    const ctr = node.spawnContainer('busybox', { volumes: [[v, '/data']], command: ['sleep', '600'] });
    await ctr.ready();
    for (const attempt of [() => v.snapshot(), () => v.rollback(), () => loc.destroyVolume(v)]) {
      const err = await attempt().then(() => null, (e: Error) => e);
      expect(err).to.be.instanceOf(VolumeInUse);
      expect(err!.message).to.contain(`tfnz-${ctr.id}`);
    }
    await node.destroyContainer(ctr);
    await loc.destroyVolume(v);
    expect(loc.allVolumes()).to.not.include(v);
  });

  it('rejects overlapping mount points and unknown volumes before spawning', async () => {
    const v = await create(loc, tag('mnt'));
    const w = await create(loc, tag('mnt'));
    const node = loc.rankedNodes().find((n) => n.id === v.nodeId)!;
    const overlap = node.spawnContainer('busybox', { volumes: [[v, '/data'], [w, '/data/sub']], command: ['true'] });
    expect(await overlap.ready().catch((e: Error) => e)).to.be.instanceOf(BadRequest).with.property('message').that.contains('overlap');
    const unknown = node.spawnContainer('busybox', { volumes: [['no-such-volume', '/data']], command: ['true'] });
    expect(await unknown.ready().catch((e: Error) => e)).to.be.instanceOf(NotFound);
  });

  it('keeps volumes and their data across a location restart', async () => {
    const other = `spec-vol-${nanoid(6)}`;
    const first = await LocationServer.start({ name: other, port: 0 });
    const a = await Location.connect({ location: first.url, quiet: true });
    const t = tag('restart');
    const v = await a.createVolume({ tag: t });
    await runWith(a, v, 'echo survived > /data/f');
    await a.disconnect();
    await first.close();
    const second = await LocationServer.start({ name: other, port: 0 });
    const b = await Location.connect({ location: second.url, quiet: true });
    try {
      const again = b.volume(t);
      expect(again.id).to.equal(v.id);
      expect((await runWith(b, again, 'cat /data/f')).out).to.deep.equal(['survived']);
      await b.destroyVolume(again);
    } finally {
      await b.disconnect();
      await second.close();
    }
  });
});

describe('tagged containers and external containers (real location)', function () {
  this.timeout(60_000);
  let server: LocationServer;
  before(async () => {
    server = await LocationServer.start({ name: `spec-ext-${nanoid(6)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });
  const connect = () => Location.connect({ location: server.url, quiet: true });

  it('shows a tagged container to the user\'s other sessions, with its node and address, until it ends', async () => {
    const owner = await connect();
    const other = await connect();
    try {
      const appeared = firstValueFrom(other.externals$.pipe(filter((e) => Object.values(e).some((x) => x.tag === 'web'))));
      const web = owner.node().spawnContainer('busybox', { tag: 'web', command: ['sleep', '600'] });
      await web.ready();
      await appeared;
      const ext = other.externalContainer('web');
      expect(ext.id).to.equal(web.id);
      expect(ext.privateIp).to.equal(web.privateIp);
      expect(ext.node).to.equal(web.node.id);
      expect(other.externalContainer(`${web.id}:web`).id).to.equal(web.id);
      expect(() => owner.externalContainer('web'), 'a session does not see its own as external').to.throw(NotFound);
      const late = await connect();
      expect(late.externalContainer('web').id, 'sessions opened later get it in their offer').to.equal(web.id);
      await late.disconnect();
      const gone = firstValueFrom(other.externals$.pipe(filter((e) => !e[web.id])));
      await owner.node().destroyContainer(web);
      await gone;
      expect(() => other.externalContainer('web')).to.throw(NotFound);
    } finally {
      await owner.disconnect();
      await other.disconnect();
    }
  });

  it('keeps container tags unique per user across sessions, and per user only', async () => {
    const a = await connect();
    const b = await connect();
    const stranger = await rawClient(server.url);
    try {
      const first = a.node().spawnContainer('busybox', { tag: 'db', command: ['sleep', '600'] });
      await first.ready();
      const clash = b.node().spawnContainer('busybox', { tag: 'db', command: ['sleep', '600'] });
      expect(await clash.ready().catch((e: Error) => e)).to.be.instanceOf(TagInUse);
      await stranger.request('open_session', { client: 'spec', user: 'stranger' });
      const offer = await stranger.next((f) => f.kind === 'event' && f.event === 'resource_offer');
      expect((offer as { params: { externals: unknown[] } }).params.externals, 'other users never see it').to.deep.equal([]);
      const node = ((offer as { params: { nodes: { id: string }[] } }).params.nodes)[0].id;
      const mine = await stranger.request('spawn_container', { container: nanoid(), node, image: 'busybox', tag: 'db', command: ['sleep', '600'] });
      expect(mine.error, 'another user may use the same tag').to.equal(undefined);
      const bad = b.node().spawnContainer('busybox', { tag: 'Not OK', command: ['true'] });
      expect(await bad.ready().catch((e: Error) => e)).to.be.instanceOf(InvalidTag);
    } finally {
      stranger.ws.close();
      await a.disconnect();
      await b.disconnect();
    }
  });
});
