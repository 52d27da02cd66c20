import { expect } from 'chai';
import { firstValueFrom, filter } from 'rxjs';
import { pack } from 'msgpackr';
import { nanoid } from 'nanoid';
import { BadRequest, ContainerNotFound, SessionExpired, Location, tableValues, LocationUnreachable, UnknownCommand } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { encodeFrame, type EventFrame, type ReplyFrame } from '../../lib/protocol';
import { containersLabelled, docker, eventually } from '../support/docker';
import { rawClient, type Incoming } from '../support/raw-client';
import { exited, firstLine, runScript, startLocationProcess } from '../support/processes';
import os from 'node:os';

/** How long the location waits for a dropped session to come back, in these specs. */
const GRACE_MS = 1500;

describe('sessions and garbage collection (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let server: LocationServer;
  const name = `spec-${nanoid(8)}`;

  before(async () => {
    // A short grace period: a dropped socket's session is collected soon after (default: 120 s).
    server = await LocationServer.start({ name, port: 0, sessionGraceMs: GRACE_MS });
  });
  after(async () => {
    await server?.close();
  });

  const connect = () => Location.connect({ location: server.url, quiet: true });

  it('removes a session\'s containers from the engine when it disconnects', async () => {
    const loc = await connect();
    const ctrs = [1, 2].map(() => loc.node().spawnContainer('busybox', { command: ['sleep', '600'] }));
    await Promise.all(ctrs.map((c) => c.ready()));
    expect(await containersLabelled('tfnz.session', loc.state.session!)).to.have.length(2);
    await loc.disconnect();
    expect(await containersLabelled('tfnz.session', loc.state.session!)).to.deep.equal([]);
    expect(ctrs.map((c) => c.status)).to.deep.equal(['destroyed', 'destroyed']);
  });

  it('removes them too when the socket just drops, once the grace period has passed', async () => {
    const raw = await rawClient(server.url);
    raw.send(encodeFrame({ kind: 'request', id: 1, command: 'open_session', params: { client: 'spec' } }));
    const opened = (await raw.next((f) => f.kind === 'reply' && f.id === 1)) as ReplyFrame;
    const session = (opened.result as { session: string }).session;
    const node = ((await raw.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame).params as { nodes: { id: string }[] };
    raw.send(encodeFrame({ kind: 'request', id: 2, command: 'spawn_container', params: { container: nanoid(), node: node.nodes[0].id, image: 'busybox', command: ['sleep', '600'] } }));
    expect(((await raw.next((f) => f.kind === 'reply' && f.id === 2)) as ReplyFrame).error).to.equal(undefined);
    expect(await containersLabelled('tfnz.session', session)).to.have.length(1);
    raw.ws.terminate();
    await eventually(async () => expect(await containersLabelled('tfnz.session', session)).to.deep.equal([]));
  });

  /** A raw session with one node's id, for sending what the SDK never would. */
  async function rawSession() {
    const raw = await rawClient(server.url);
    const opened = (await raw.request('open_session', { client: 'spec' })) as ReplyFrame;
    const offer = ((await raw.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame).params as { nodes: { id: string }[] };
    return { raw, session: (opened.result as { session: string }).session, node: offer.nodes[0].id };
  }
  const statusEvents = (frames: Incoming[], container: string, status: string) =>
    frames.filter((f) => f.kind === 'event' && f.event === 'container_status'
      && (f.params as { container: string; status: string }).container === container && (f.params as { status: string }).status === status);

  it('destroys a container once when two destroy_container requests for it arrive together', async () => {
    const { raw, node } = await rawSession();
    const container = nanoid();
    const spawned = (await raw.request('spawn_container', { container, node, image: 'busybox', command: ['sleep', '600'] })) as ReplyFrame;
    expect(spawned.error).to.equal(undefined);
    const replies = await Promise.all([1, 2].map(() => raw.request('destroy_container', { container }))) as ReplyFrame[];
    expect(replies.map((r) => r.error), 'both callers are told it is gone').to.deep.equal([undefined, undefined]);
    const after = (await raw.request('destroy_container', { container })) as ReplyFrame;
    expect(after.error?.code).to.equal('CONTAINER_NOT_FOUND');
    expect(statusEvents(raw.frames, container, 'destroyed'), 'destroyed is reported once').to.have.length(1);
    expect(await containersLabelled('tfnz.container', container)).to.deep.equal([]);
    raw.ws.close();
  });

  it('keeps a socket whose resume failed with SessionExpired answering: it can open a new session', async () => {
    const { raw, session, node } = await rawSession();
    // More output than the location keeps for a replay (64 MB), never acknowledged: resuming from 0 is impossible.
    const container = nanoid();
    await raw.request('spawn_container', { container, node, image: 'busybox', command: ['head', '-c', '72000000', '/dev/zero'] });
    await raw.next((f) => statusEvents([f], container, 'exited').length === 1);
    raw.ws.terminate();
    const again = await rawClient(server.url);
    const resumed = (await again.request('resume_session', { session, lastSeq: 0 })) as ReplyFrame;
    expect(resumed.error?.code).to.equal(new SessionExpired('').code);
    const fresh = (await again.request('open_session', { client: 'spec' })) as ReplyFrame;
    expect(fresh.error).to.equal(undefined);
    expect((fresh.result as { session: string }).session).to.not.equal(session);
    expect(((await again.request('destroy_container', { container })) as ReplyFrame).error?.code, 'the old session is gone').to.equal('CONTAINER_NOT_FOUND');
    await eventually(async () => expect(await containersLabelled('tfnz.session', session)).to.deep.equal([]));
    again.ws.close();
  });

  it('keeps sessions apart: one cannot see or destroy another\'s containers, even by id', async () => {
    const alice = await connect();
    const bob = await connect();
    try {
      const ctr = alice.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await ctr.ready();
      expect(tableValues(bob.state.containers)).to.deep.equal([]);
      // Bob forges a request naming Alice's container.
      const forged = (bob as unknown as { connection: { request: Function } }).connection;
      const err = await forged.request('destroy_container', { container: ctr.id }).then(() => null, (e: Error) => e);
      expect(err).to.be.instanceOf(ContainerNotFound);
      for (const [command, params] of [
        ['create_tunnel', { tunnel: 'forgedtunnel1', container: ctr.id, port: 80, timeout: 5 }],
        ['spawn_process', { container: ctr.id, process: 'forgedprocess1', command: 'id' }],
        ['fetch_file', { container: ctr.id, path: '/etc/passwd', transfer: 'forgedfetch01' }],
      ] as const) {
        const refused = await forged.request(command, params).then(() => null, (e: Error) => e);
        expect(refused, `${command} into another session's container`).to.be.instanceOf(ContainerNotFound);
      }
      expect(ctr.status).to.equal('running');
      await bob.disconnect();
      expect(ctr.status, 'bob leaving does not touch alice').to.equal('running');
      expect(await containersLabelled('tfnz.container', ctr.id)).to.have.length(1);
    } finally {
      await alice.disconnect();
      await bob.disconnect();
    }
  });

  it('answers malformed frames with errors and keeps every session running', async () => {
    const bystander = await connect();
    const ctr = bystander.node().spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    const raw = await rawClient(server.url);
    raw.send(Buffer.from('this is not msgpack at all'));
    const protocolError = (await raw.next((f) => f.kind === 'event' && f.event === 'error')) as EventFrame;
    expect((protocolError.params as { error: { code: string } }).error.code).to.equal('PROTOCOL_ERROR');
    raw.send(pack([0, 5, 'spawn_container', { container: 'x' }]));
    const early = (await raw.next((f) => f.kind === 'reply' && f.id === 5)) as ReplyFrame;
    expect(early.error?.code, 'commands before open_session are refused').to.equal(new BadRequest('').code);
    raw.send(encodeFrame({ kind: 'request', id: 6, command: 'open_session', params: { client: 'spec' } }));
    await raw.next((f) => f.kind === 'reply' && f.id === 6);
    raw.send(encodeFrame({ kind: 'request', id: 7, command: 'launch_missiles', params: {} }));
    expect(((await raw.next((f) => f.kind === 'reply' && f.id === 7)) as ReplyFrame).error?.code).to.equal(new UnknownCommand('').code);
    raw.send(encodeFrame({ kind: 'request', id: 8, command: 'spawn_container', params: { container: 'short', node: 5, image: 'busybox' } }));
    const bad = ((await raw.next((f) => f.kind === 'reply' && f.id === 8)) as ReplyFrame).error!;
    expect(bad.code).to.equal('BAD_REQUEST');
    expect(bad.message).to.contain("'container' must be 8-64 characters");
    raw.send(encodeFrame({ kind: 'request', id: 9, command: 'destroy_container', params: { container: 'nonexistent-id' } }));
    expect(((await raw.next((f) => f.kind === 'reply' && f.id === 9)) as ReplyFrame).error?.code).to.equal('CONTAINER_NOT_FOUND');
    raw.send(encodeFrame({ kind: 'request', id: 0, command: 'container_stdin', params: { container: 'nonexistent-id' } }));
    const oneWay = (await raw.next((f) => f.kind === 'event' && f.event === 'error' && (f.params as { about?: string }).about === 'container_stdin')) as EventFrame;
    expect((oneWay.params as { error: { code: string } }).error.code).to.equal('CONTAINER_NOT_FOUND');
    raw.ws.close();
    // The bystander's session and container are untouched, and it can still act.
    expect(ctr.status).to.equal('running');
    const probe = bystander.node().spawnContainer('busybox', { command: ['sh', '-c', 'exit 9'] });
    expect(await firstValueFrom(probe.termination$)).to.equal(9);
    await bystander.disconnect();
  });

  it('holds several sessions at once, each with its own containers', async () => {
    const sessions = await Promise.all([1, 2, 3, 4, 5].map(() => connect()));
    const ctrs = sessions.map((s) => s.node().spawnContainer('busybox', { command: ['sleep', '600'] }));
    await Promise.all(ctrs.map((c) => c.ready()));
    sessions.forEach((s, i) => expect(tableValues(s.state.containers).map((c) => c.id)).to.deep.equal([ctrs[i].id]));
    await Promise.all(sessions.map((s) => s.disconnect()));
    for (const s of sessions) expect(await containersLabelled('tfnz.session', s.state.session!)).to.deep.equal([]);
  });

  it('expires the sessions of a killed location cleanly when it restarts, and reaps their containers', async () => {
    const other = `spec-${nanoid(8)}`;
    const first = await startLocationProcess(other);
    const port = Number(new URL(first.url).port);
    const loc = await Location.connect({ location: first.url, quiet: true });
    const running = loc.run().then(() => null, (e: Error) => e);
    const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
    await ctr.ready();
    first.child.kill('SIGKILL');
    await exited(first.child);
    // Nobody collected the container: the engine still runs it.
    expect((await docker.getContainer(`tfnz-${ctr.id}`).inspect()).State.Running).to.equal(true);
    // The location comes back on the same address: it reaps the orphan, and the program, trying
    // to resume all along, learns that its session is gone.
    const second = await startLocationProcess(other, [], port);
    try {
      expect(await running).to.be.instanceOf(SessionExpired);
      expect(await containersLabelled('tfnz.container', ctr.id)).to.deep.equal([]);
      expect(ctr.status).to.equal('destroyed');
      expect(await firstValueFrom(ctr.termination$).catch((e: Error) => e), 'termination$ says why').to.be.instanceOf(SessionExpired);
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
  });

  it('collects the containers of a client killed with SIGKILL', async () => {
    const child = runScript('spec/fixtures/spawn-and-wait.ts', { TFNZ_LOCATION: server.url });
    const id = await firstLine(child);
    expect(await containersLabelled('tfnz.container', id)).to.have.length(1);
    child.kill('SIGKILL');
    await exited(child);
    await eventually(async () => expect(await containersLabelled('tfnz.container', id)).to.deep.equal([]));
  });

  it('keeps sessions with two locations at once apart', async () => {
    const second = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0 });
    const here = await connect();
    const there = await Location.connect({ location: second.url, quiet: true });
    try {
      const a = here.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      const b = there.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await Promise.all([a.ready(), b.ready()]);
      expect(tableValues(here.state.containers).map((c) => c.id)).to.deep.equal([a.id]);
      expect(tableValues(there.state.containers).map((c) => c.id)).to.deep.equal([b.id]);
      await there.disconnect();
      expect(b.status).to.equal('destroyed');
      expect(a.status, 'ending one location\'s session leaves the other alone').to.equal('running');
    } finally {
      await here.disconnect();
      await there.disconnect();
      await second.close();
    }
  });

  it('fails fast with LocationUnreachable when nothing listens', async () => {
    const started = Date.now();
    const err = await Location.connect({ location: '127.0.0.1:1', quiet: true }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(LocationUnreachable);
    expect(err!.message).to.contain('ws://127.0.0.1:1');
    expect(Date.now() - started).to.be.lessThan(10_000);
  });

  it('emits node stats into state as the location samples them', async () => {
    const fast = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0, statsIntervalMs: 200 });
    const loc = await Location.connect({ location: fast.url, quiet: true });
    try {
      const node = loc.node();
      const offered = node.stats;
      const nodesAtOffer = loc.state.nodes;
      // Sampling runs every 200 ms; idle CPU and free memory move between samples.
      const changed = await firstValueFrom(node.stats$.pipe(filter((s) => s !== offered)));
      expect(loc.state.nodes, 'a new state, the offer\'s left as it was').to.not.equal(nodesAtOffer);
      expect(nodesAtOffer[node.id].stats).to.equal(offered);
      expect(changed).to.not.deep.equal(offered);
      expect(changed.cpu).to.be.within(0, os.cpus().length * 100);
      expect(changed.memory).to.be.within(1, os.totalmem() / 2 ** 20);
    } finally {
      await loc.disconnect();
      await fast.close();
    }
  });

  it('confirms a client\'s acks with its next other frame, not each on its own (a stats tick costs a session one frame back, #17)', async () => {
    const fast = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0, statsIntervalMs: 200 });
    const raw = await rawClient(fast.url);
    try {
      expect((await raw.request('open_session', { client: 'spec' })).error).to.equal(undefined);
      const isReceived = (f: Incoming) => f.kind === 'event' && f.event === 'received';
      expect(((await raw.next(isReceived)) as EventFrame).params, 'open_session is confirmed').to.deep.equal({ count: 1 });
      const confirmations = () => raw.frames.filter(isReceived).length;
      // Ack each stats change as the SDK does, for well past the location's 500 ms confirmation delay.
      let lastSeq = 0;
      for (let acks = 0; acks < 6; acks++) {
        const stats = (await raw.next((f) => f.kind === 'event' && f.event === 'node_stats' && f.seq > lastSeq)) as EventFrame;
        lastSeq = stats.seq;
        raw.send(encodeFrame({ kind: 'request', id: 0, command: 'ack', params: { seq: lastSeq } }));
      }
      expect(confirmations(), 'acks alone earn no confirmation').to.equal(1);
      // The next other frame is confirmed, and with it every ack: open_session, 6 acks, this request.
      const reply = await raw.request('destroy_container', { container: 'nonexistent-id' });
      expect(reply.error?.code).to.equal('CONTAINER_NOT_FOUND');
      const confirmed = (await raw.next((f) => isReceived(f) && ((f as EventFrame).params as { count: number }).count > 1)) as EventFrame;
      expect(confirmed.params).to.deep.equal({ count: 8 });
    } finally {
      raw.ws.close();
      await fast.close();
    }
  });
});
