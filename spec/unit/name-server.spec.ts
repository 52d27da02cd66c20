import { expect } from 'chai';
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { NameServer } from '../../lib/server/name-server';

/** The location's name server, asked by Node's own resolver (a real DNS client) on the loopback. */
describe('NameServer (DNS for the location\'s names)', () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const asked: string[] = [];
  const server = new NameServer((name, askerIp, localIp) => {
    asked.push(`${name} from ${askerIp} on ${localIp}`);
    return name === 'db' ? '10.253.32.7' : name.endsWith('.localhost') ? localIp : undefined;
  }, () => undefined, port);
  const resolver = new Resolver({ timeout: 2000, tries: 1 });

  before(async () => {
    expect(await server.listen('127.0.0.1')).to.equal(true);
    resolver.setServers([`127.0.0.1:${port}`]);
  });
  after(() => server.close());

  it('answers A queries for its names, case-insensitively, with the asker and the address asked on', async () => {
    expect(await resolver.resolve4('db')).to.deep.equal(['10.253.32.7']);
    expect(await resolver.resolve4('DB')).to.deep.equal(['10.253.32.7']);
    expect(await resolver.resolve4('www.example.localhost')).to.deep.equal(['127.0.0.1']);
    expect(asked).to.include('www.example.localhost from 127.0.0.1 on 127.0.0.1');
  });

  it('says NXDOMAIN for other names, and has no AAAA record for its own', async () => {
    const missing = await resolver.resolve4('nosuch').catch((e: NodeJS.ErrnoException) => e.code);
    expect(missing).to.equal('ENOTFOUND');
    const aaaa = await resolver.resolve6('db').catch((e: NodeJS.ErrnoException) => e.code);
    expect(aaaa).to.equal('ENODATA');
  });

  it('answers a packet it cannot read with FORMERR and keeps serving', async () => {
    const socket = createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    socket.send(Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x40]), port, '127.0.0.1');
    const got = await reply;
    socket.close();
    expect(got.readUInt16BE(0)).to.equal(0x1234);
    expect(got.readUInt16BE(2) & 0x800f).to.equal(0x8001);
    expect(await resolver.resolve4('db')).to.deep.equal(['10.253.32.7']);
  });

  it('reports an address it cannot listen on instead of failing', async () => {
    const lines: string[] = [];
    const second = new NameServer(() => undefined, (line) => lines.push(line), port);
    expect(await second.listen('127.0.0.1')).to.equal(false);
    expect(lines.join()).to.match(/cannot listen on 127\.0\.0\.1/);
    await second.close();
  });
});
