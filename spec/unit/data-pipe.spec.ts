import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { DataPipe, REPLAY_BYTES } from '../../lib/protocol/data-pipe';

/**
 * DataPipe's replay on real loopback sockets, no location: two pipes whose data connection is cut
 * again and again while bytes flow both ways; the control messages go straight across (as the
 * session's socket would carry them).
 */
describe('DataPipe (a tunnel connection on data connections that break)', function () {
  this.timeout(30_000);
  let server: Server;
  const accepted: ((s: Socket) => void)[] = [];

  before(async () => {
    server = createServer({ allowHalfOpen: true }, (s) => accepted.shift()!(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => server.close());

  /** A connected pair of loopback sockets. */
  async function pair(): Promise<[Socket, Socket]> {
    const far = new Promise<Socket>((resolve) => accepted.push(resolve));
    const near = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => near.once('connect', resolve));
    return [near, await far];
  }

  function collect(socket: Socket): Promise<Buffer> {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    return new Promise((resolve) => socket.on('end', () => resolve(Buffer.concat(chunks))));
  }

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('carries bytes both ways exactly once across cut data connections, ends included, and keeps at most REPLAY_BYTES unacknowledged', async () => {
    const [appA, localA] = await pair();
    const [appB, localB] = await pair();
    let finished = 0;
    let allFinished = () => {};
    const bothFinished = new Promise<void>((resolve) => (allFinished = resolve));
    let relinks = 0;
    let peakReplay = 0;
    const pipes: DataPipe[] = [];
    const other = (i: number) => pipes[1 - i];
    const relink = async () => {
      relinks++;
      const [la, lb] = await pair();
      if (pipes.some((p) => p.isClosed)) return void (la.destroy(), lb.destroy());
      const [receivedA, receivedB] = [pipes[0].receivedBytes, pipes[1].receivedBytes];
      pipes[0].attachLink(la, receivedB);
      pipes[1].attachLink(lb, receivedA);
    };
    let relinking: Promise<void> | undefined;
    const lost = () => {
      relinking ??= relink().finally(() => (relinking = undefined));
    };
    for (const i of [0, 1]) {
      pipes.push(new DataPipe({
        ack: (bytes) => setImmediate(() => other(i).ackFromPeer(bytes)),
        end: (total) => setImmediate(() => other(i).endFromPeer(total)),
        close: () => setImmediate(() => other(i).close(true)),
      }, () => ++finished === 2 && allFinished(), lost));
    }
    pipes[0].attachLocal(localA);
    pipes[1].attachLocal(localB);
    await relink();
    const size = 16 * 1024 * 1024;
    const [ab, ba] = [randomBytes(size), randomBytes(size)];
    const [gotB, gotA] = [collect(appB), collect(appA)];
    // Cut the data connection at each quarter of what B receives: bytes are in flight both ways.
    let arrived = 0;
    let cuts = 0;
    appB.on('data', (chunk: Buffer) => {
      arrived += chunk.length;
      peakReplay = Math.max(peakReplay, ...pipes.map((p) => (p as unknown as { replayBytes: number }).replayBytes));
      if (arrived > ((cuts + 1) * size) / 4 && cuts < 3 && !relinking) {
        cuts++;
        (pipes[0] as unknown as { link?: Socket }).link?.destroy();
      }
    });
    appA.end(ab);
    appB.end(ba);
    const [b, a] = await Promise.all([gotB, gotA]);
    expect(sha(b), 'A to B').to.equal(sha(ab));
    expect(sha(a), 'B to A').to.equal(sha(ba));
    expect(cuts).to.equal(3);
    expect(relinks).to.equal(4);
    expect(peakReplay).to.be.at.most(REPLAY_BYTES + 64 * 1024);
    appA.destroy();
    appB.destroy();
    await bothFinished;
    expect(pipes.every((p) => p.isClosed)).to.equal(true);
  });

  it('acknowledges every byte it received when it finishes, so the other end, closing, does not keep them for FLUSH_BEFORE_CLOSE_MS', async () => {
    const [app, local] = await pair();
    const [far, link] = await pair();
    const acked: number[] = [];
    let finished = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    const pipe = new DataPipe({ ack: (bytes) => acked.push(bytes), end: () => undefined, close: () => undefined }, () => finished());
    pipe.attachLocal(local);
    expect(pipe.attachLink(link, 0)).to.equal(true);
    // The other end's last bytes arrive, its socket is gone, and ours is torn down: all before the
    // ack batch (ACK_DELAY_MS) goes out. Same turn of the event loop as the bytes, so never later.
    link.on('data', () => {
      if (pipe.receivedBytes < 5) return;
      pipe.endFromPeer(5);
      local.destroy();
      pipe.close(true);
    });
    far.write('hello');
    await done;
    expect(acked.reduce((a, b) => a + b, 0), 'bytes acknowledged').to.equal(5);
    expect(pipe.isClosed).to.equal(true);
    for (const s of [app, far]) s.destroy();
  });
});
