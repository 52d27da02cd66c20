/**
 * Ordinary actions that once ended the location process for every user. Each runs against a
 * location in its own process, with a bystander session that must keep working through it.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { nanoid } from 'nanoid';
import { Location } from '../../lib/index';
import { encodeFrame, type EventFrame, type ReplyFrame } from '../../lib/protocol';
import { rawClient } from '../support/raw-client';
import { exited, startLocationProcess } from '../support/processes';
import {
  claimNodeEngines, killNodeEngine, nodeEngineAddress, releaseNodeEngines,
} from '../support/node-engines';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('a location that ordinary actions cannot crash (location in its own process)', function () {
  this.timeout(60_000);
  let child: ChildProcess;
  let url: string;
  let bystander: Location;

  // A fresh location for each case, so that one crash cannot be blamed on another case. Two nodes:
  // the local engine, and an engine of its own that one case kills.
  let doomed: number;
  before(async function () {
    this.timeout(180_000);
    [doomed] = await claimNodeEngines(1);
  });
  after(async function () {
    this.timeout(180_000);
    if (doomed !== undefined) await releaseNodeEngines([doomed]);
  });
  beforeEach(async () => {
    const engines = join(mkdtempSync(join(tmpdir(), 'tfnz-spec-')), 'engines');
    writeFileSync(engines, `unix:///var/run/docker.sock local\n${nodeEngineAddress(doomed)} doomed\n`);
    ({ child, url } = await startLocationProcess(`spec-${nanoid(8)}`, ['--engines-file', engines]));
    bystander = await Location.connect({ location: url, quiet: true });
  });
  afterEach(async () => {
    if (child.exitCode === null) await bystander.disconnect().catch(() => undefined);
    child.kill('SIGTERM');
  });

  /** The location still runs, and still spawns and runs processes for someone else. */
  async function bystanderStillServed(): Promise<void> {
    await unlessItDies((async () => {
      const node = bystander.rankedNodes().find((n) => n.name === 'local')!;
      const ctr = node.spawnContainer('busybox', { command: ['sleep', '600'] });
      const { stdout } = await ctr.runProcess('echo still here');
      expect(Buffer.from(stdout).toString()).to.equal('still here\n');
      await node.destroyContainer(ctr);
    })());
  }

  /** `work`, failing at once if the location process exits meanwhile. */
  function unlessItDies<T>(work: Promise<T>): Promise<T> {
    const died = exited(child).then((code): never => {
      throw new Error(`the location process exited (${code})`);
    });
    return Promise.race([work, died]);
  }

  /** A raw session with one running busybox, and a put of `size` bytes opened into it. */
  async function openPut(size: number, nodeName?: string) {
    const raw = await rawClient(url);
    const reply = (id: number) => raw.next((f) => f.kind === 'reply' && f.id === id) as Promise<ReplyFrame>;
    raw.send(encodeFrame({ kind: 'request', id: 1, command: 'open_session', params: { client: 'spec', user: 'mallory' } }));
    expect((await reply(1)).error).to.equal(undefined);
    const offer = (await raw.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame;
    const nodes = (offer.params as { nodes: { id: string; name: string }[] }).nodes;
    const node = (nodes.find((n) => n.name === nodeName) ?? nodes[0]).id;
    const container = nanoid();
    raw.send(encodeFrame({ kind: 'request', id: 2, command: 'spawn_container', params: { container, node, image: 'busybox', command: ['sleep', '600'] } }));
    expect((await reply(2)).error).to.equal(undefined);
    await raw.next((f) => f.kind === 'event' && f.event === 'container_status' && (f.params as { status: string }).status === 'running');
    const transfer = nanoid();
    raw.send(encodeFrame({ kind: 'request', id: 3, command: 'put_file', params: { container, path: '/tmp/file', transfer, size } }));
    expect((await reply(3)).error).to.equal(undefined);
    const data = (bytes: number) => raw.send(encodeFrame({ kind: 'request', id: 0, command: 'file_data', params: { transfer }, bulk: new Uint8Array(bytes) }));
    const ended = () => raw.next((f) => f.kind === 'event' && f.event === 'file_end' && (f.params as { transfer: string }).transfer === transfer) as Promise<EventFrame>;
    return { raw, container, transfer, data, ended, reply };
  }

  it('survives a container destroyed while a put into it is in flight', async () => {
    const put = await openPut(4 * 1024 * 1024);
    put.data(64 * 1024);
    await put.raw.next((f) => f.kind === 'event' && f.event === 'file_ack');
    put.raw.send(encodeFrame({ kind: 'request', id: 4, command: 'destroy_container', params: { container: put.container } }));
    expect((await put.reply(4)).error).to.equal(undefined);
    put.data(64 * 1024); // late data for a transfer that is gone
    await bystanderStillServed();
    put.raw.ws.close();
  });

  it('survives a put the client cancels half way', async () => {
    const put = await openPut(4 * 1024 * 1024);
    put.data(64 * 1024);
    await put.raw.next((f) => f.kind === 'event' && f.event === 'file_ack');
    put.raw.send(encodeFrame({ kind: 'request', id: 0, command: 'file_cancel', params: { transfer: put.transfer } }));
    await bystanderStillServed();
    put.raw.ws.close();
  });

  it('survives the node\'s engine going away in the middle of a put', async () => {
    const put = await openPut(4 * 1024 * 1024, 'doomed');
    put.data(64 * 1024);
    await put.raw.next((f) => f.kind === 'event' && f.event === 'file_ack');
    await killNodeEngine(doomed);
    put.data(64 * 1024);
    const end = await put.ended();
    expect((end.params as { error?: { code: string } }).error, 'the put failed, and said so').to.not.equal(undefined);
    await bystanderStillServed();
    put.raw.ws.close();
  });

  it('survives more bytes than a put announced, and says why it failed', async () => {
    const put = await openPut(1000);
    put.data(600);
    put.data(600);
    const end = await put.ended();
    expect((end.params as { error?: { code: string; message: string } }).error).to.include({ code: 'BAD_REQUEST' });
    expect((end.params as { error: { message: string } }).error.message).to.match(/more than the announced 1000 bytes/);
    await bystanderStillServed();
    put.raw.ws.close();
  });

  it('survives a site whose container answers with a control byte in its status line', async () => {
    const loc = await Location.connect({ location: url, quiet: true });
    try {
      const ctr = loc.node().spawnContainer('busybox', { command: ['sh', '-c', "while true; do printf 'HTTP/1.1 200 O\\001K\\r\\nContent-Length: 2\\r\\n\\r\\nok' | nc -l -p 80; done"] });
      await ctr.waitTcp(80);
      const endpoint = loc.endpointFor('weird.localhost');
      const { Cluster } = await import('../../lib/index');
      await endpoint.publish(new Cluster({ containers: [ctr] }), 'weird.localhost');
      const answer = await unlessItDies(new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get(endpoint.requestOptions('weird.localhost'), (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        }).on('error', reject);
      }));
      expect(answer).to.deep.equal({ status: 200, body: 'ok' });
    } finally {
      await loc.disconnect();
    }
    await bystanderStillServed();
  });
});
