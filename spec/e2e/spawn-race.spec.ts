import { expect } from 'chai';
import { nanoid } from 'nanoid';
import { LocationServer } from '../../lib/server/index';
import { encodeFrame, type EventFrame, type ReplyFrame } from '../../lib/protocol';
import { containersLabelled, docker } from '../support/docker';
import { rawClient } from '../support/raw-client';

describe('two spawns with one container id (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let server: LocationServer;

  before(async () => {
    server = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  it('lets the first win; the second is refused and touches nothing of the first', async () => {
    const raw = await rawClient(server.url);
    const opened = (await raw.request('open_session', { client: 'spec', user: `race-${nanoid(6)}` })) as ReplyFrame;
    const session = (opened.result as { session: string }).session;
    const offer = (await raw.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame;
    const node = (offer.params as { nodes: { id: string }[] }).nodes[0].id;
    const id = nanoid();
    const tag = `race-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    const spawn = { node, image: 'busybox', command: ['sleep', '600'], container: id };
    // Both frames leave before either is answered, so both are in the location at once.
    raw.ws.send(encodeFrame({ kind: 'request', id: 1, command: 'spawn_container', params: { ...spawn, tag } }));
    raw.ws.send(encodeFrame({ kind: 'request', id: 2, command: 'spawn_container', params: spawn }));
    const [first, second] = (await Promise.all([1, 2].map((n) => raw.next((f) => f.kind === 'reply' && f.id === n)))) as ReplyFrame[];
    expect(first.error, 'the first spawn succeeds').to.equal(undefined);
    expect(second.error?.code).to.equal('BAD_REQUEST');
    expect(second.error?.message).to.contain(`'${id}' is already in use`);

    // The winner still runs, under the location's management, and keeps its tag.
    const [name] = await containersLabelled('tfnz.container', id);
    expect((await docker.getContainer(name.slice(1)).inspect()).State.Running).to.equal(true);
    const again = (await raw.request('spawn_container', { ...spawn, container: nanoid(), tag })) as ReplyFrame;
    expect(again.error?.code, 'the tag is still held by the winner').to.equal('TAG_IN_USE');
    const reached = (await raw.request('spawn_process', { container: id, process: nanoid(), command: 'true' })) as ReplyFrame;
    expect(reached.error, 'the session still owns the winner').to.equal(undefined);

    // Ending the session removes it: its entry was not lost to the loser's clean-up.
    expect(((await raw.request('close_session', {})) as ReplyFrame).error).to.equal(undefined);
    expect(await containersLabelled('tfnz.session', session)).to.deep.equal([]);
    raw.ws.close();
  });
});
