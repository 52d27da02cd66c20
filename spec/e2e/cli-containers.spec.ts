/**
 * #20: a container left running by `tfnz run -d`, reached from later commands as a Docker user
 * would (ps, logs, exec, cp, stop, rm), against one real location on the real Docker Engine; and
 * another user's containers never show or answer.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { LocationServer } from '../../lib/server/index';
import { containersLabelled, eventually } from '../support/docker';
import { rawClient } from '../support/raw-client';
import { tfnz } from '../support/tfnz-cli';

const freshTag = (prefix: string) => `${prefix}-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;

interface Listed {
  id: string;
  tag?: string;
  status: string;
  exitCode?: number;
  detached: boolean;
  image: string;
  node: string;
}

describe('tfnz run -d, ps, logs, exec, cp, stop and rm (real location, real Docker Engine)', function () {
  this.timeout(240_000); // every step is a tfnz process of its own (a second or two each, more on a busy machine)
  let server: LocationServer;
  const at = () => ['--location', server.url];
  const ps = async (...flags: string[]): Promise<Listed[]> => JSON.parse((await tfnz(['ps', '--json', ...flags, ...at()])).stdout) as Listed[];

  before(async () => {
    server = await LocationServer.start({ name: `spec-cli-ctr-${nanoid(6)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  it('run -d leaves a container running after tfnz ends; ps, logs, exec and cp reach it; stop and rm end it and its session', async () => {
    const tag = freshTag('web');
    const started = await tfnz(['run', '-q', '-d', '--tag', tag, ...at(), 'busybox', 'sh', '-c', 'echo started; exec sleep 3600']);
    expect(started.stderr).to.equal('');
    expect(started.code).to.equal(0);
    const id = started.stdout.trim();
    expect(id).to.match(/^[A-Za-z0-9_-]{8,64}$/);

    // logs by tag as soon as the line is there; then ps, logs, exec and cp side by side (each is a separate tfnz)
    await eventually(async () => {
      const out = await tfnz(['logs', tag, ...at()]);
      if (out.stdout !== 'started\n') throw new Error(`not yet: ${out.stdout}`);
    });
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-cp-'));
    writeFileSync(join(dir, 'note.txt'), 'copied in\n');
    const [json, table, byPrefix, exec, execStdin, notFound, copiedIn, copiedOut] = await Promise.all([
      ps(), tfnz(['ps', ...at()]), tfnz(['logs', id.slice(0, 8), ...at()]),
      tfnz(['exec', ...at(), tag, 'sh', '-c', 'echo in container; exit 3']),
      tfnz(['exec', '-i', ...at(), `${id}:${tag}`, 'sh', '-c', 'cat; echo -n end'], 'typed\n'),
      tfnz(['exec', ...at(), tag, 'no-such-program']),
      tfnz(['cp', ...at(), join(dir, 'note.txt'), `${tag}:/tmp/`]),
      tfnz(['cp', ...at(), `${tag}:/etc/hostname`, join(dir, 'host')]),
    ]);
    expect(json.find((c) => c.id === id)).to.include({ tag, status: 'running', detached: true, image: 'busybox' });
    const lines = table.stdout.split('\n');
    expect(lines[0]).to.match(/^CONTAINER ID\s+TAG\s+IMAGE\s+NODE\s+STATUS\s+CREATED\s+PORTS\s+SESSION$/);
    expect(lines.find((l) => l.startsWith(id))).to.match(new RegExp(`^${id}\\s+${tag}\\s+busybox\\s+\\S+\\s+running\\s+\\d+ (seconds?|minutes?) ago\\s+detached$`));
    expect(byPrefix.stdout, 'logs by the start of the uuid').to.equal('started\n');
    expect([exec.stdout, exec.code]).to.deep.equal(['in container\n', 3]);
    expect(execStdin.stdout).to.equal('typed\nend');
    expect(notFound.code, 'a missing program: 127, as docker exec').to.equal(127);
    expect([copiedIn.code, copiedOut.code]).to.deep.equal([0, 0]);
    expect(readFileSync(join(dir, 'host'), 'utf8')).to.have.length.above(1);
    const back = await tfnz(['cp', ...at(), `${tag}:/tmp/note.txt`, join(dir, 'back.txt')]);
    expect(back.code).to.equal(0);
    expect(readFileSync(join(dir, 'back.txt'), 'utf8')).to.equal('copied in\n');

    // rm refuses a running one without -f; stop keeps it, exited; rm removes it and the session goes with it
    const refused = await tfnz(['rm', tag, ...at()]);
    expect(refused.code).to.equal(125);
    expect(refused.stderr).to.contain('stop it first').and.contain(`tfnz rm -f ${id}`);
    expect((await tfnz(['stop', tag, ...at()])).stdout).to.equal(`${tag}\n`);
    const [running, all, kept] = await Promise.all([ps(), ps('-a'), tfnz(['logs', tag, ...at()])]);
    expect(running.map((c) => c.id)).to.not.include(id);
    expect(all.find((c) => c.id === id)).to.include({ status: 'exited', detached: true });
    expect(kept.stdout, 'logs stay until rm').to.equal('started\n');
    expect((await tfnz(['rm', tag, ...at()])).code).to.equal(0);
    expect(await containersLabelled('tfnz.tag', tag)).to.deep.equal([]);
    const gone = await tfnz(['logs', tag, ...at()]);
    expect(gone.code).to.equal(125);
    expect(gone.stderr).to.contain(`you have no container '${tag}'`);
  });

  it('rm -f removes a running detached container; -d refuses what cannot outlive tfnz (-it, -p)', async () => {
    const tag = freshTag('gone');
    const started = await tfnz(['run', '-q', '-d', '--tag', tag, ...at(), 'busybox', 'sleep', '3600']);
    expect(started.code).to.equal(0);
    expect((await tfnz(['rm', '-f', tag, ...at()])).code).to.equal(0);
    expect(await containersLabelled('tfnz.tag', tag)).to.deep.equal([]);
    const refused = await tfnz(['run', '-q', '-d', '-it', ...at(), 'busybox']);
    expect(refused.code).to.equal(125);
    expect(refused.stderr).to.contain('-d leaves the container without this program');
  });

  it("another user's containers never show in tfnz ps and cannot be reached, stopped or removed", async () => {
    const tag = freshTag('mine');
    const id = (await tfnz(['run', '-q', '-d', '--tag', tag, ...at(), 'busybox', 'sleep', '3600'])).stdout.trim();
    const stranger = await rawClient(server.url);
    try {
      await stranger.request('open_session', { client: 'spec', user: 'stranger' });
      const offer = await stranger.next((f) => f.kind === 'event' && f.event === 'resource_offer');
      const node = (offer as { params: { nodes: { id: string }[] } }).params.nodes[0].id;
      const theirs = nanoid();
      expect((await stranger.request('spawn_container', { container: theirs, node, image: 'busybox', tag, command: ['sleep', '600'] })).error).to.equal(undefined);

      const seen = (await stranger.request('user_containers', { all: true })).result as { containers: { id: string }[] };
      expect(seen.containers.map((c) => c.id)).to.deep.equal([theirs]);
      expect((await ps('-a')).map((c) => c.id)).to.include(id).and.not.include(theirs);
      for (const [command, params] of [
        ['stop_user_container', { container: id }], ['remove_user_container', { container: id, force: true }],
        ['container_logs', { container: id }], ['spawn_process', { container: id, process: nanoid(), command: 'true' }],
        ['fetch_file', { container: id, path: '/etc/hostname', transfer: nanoid() }],
      ] as const) {
        const reply = await stranger.request(command, params);
        expect(reply.error?.code, command).to.equal('CONTAINER_NOT_FOUND');
      }
      // by the tag we share, each reaches only their own
      expect(((await stranger.request('remove_user_container', { container: tag, force: true })).result as { container: string }).container).to.equal(theirs);
      expect((await ps()).find((c) => c.id === id)).to.include({ status: 'running' });
      const reached = await tfnz(['exec', ...at(), tag, 'hostname']);
      expect(reached.code).to.equal(0);
    } finally {
      stranger.ws.close();
      await tfnz(['rm', '-f', id, ...at()]);
    }
    await eventually(async () => {
      if ((await containersLabelled('tfnz.tag', tag)).length) throw new Error('still there');
    });
  });

  it("a detached container counts against the user's container limit until tfnz rm", async () => {
    const small = await LocationServer.start({ name: `spec-cli-quota-${nanoid(6)}`, port: 0, limits: { containersPerUser: 1 } });
    try {
      const on = ['--location', small.url];
      const first = await tfnz(['run', '-q', '-d', ...on, 'busybox', 'sleep', '3600']);
      expect(first.code).to.equal(0);
      const refused = await tfnz(['run', '-q', '-d', ...on, 'busybox', 'sleep', '3600']);
      expect(refused.code).to.equal(125);
      expect(refused.stderr).to.contain('containers-per-user');
      expect((await tfnz(['rm', '-f', first.stdout.trim(), ...on])).code).to.equal(0);
      const again = await tfnz(['run', '-q', ...on, 'busybox', 'echo', 'room again']);
      expect(again.stdout).to.equal('room again\n');
    } finally {
      await small.close();
    }
  });
});
