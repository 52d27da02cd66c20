import { expect } from 'chai';
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NameServer, hostResolver } from '../../lib/server/name-server';

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

/** Names that are not the location's go to the upstream resolver (the host's own), and come back. */
describe('NameServer forwarding to an upstream resolver', () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const upstreamPort = port + 1;
  const upstreamAsked: string[] = [];
  const upstream = new NameServer((name) => {
    upstreamAsked.push(name);
    return name === 'outside.example' ? '10.9.8.7' : undefined;
  }, () => undefined, upstreamPort);
  const server = new NameServer((name) => (name === 'db' ? '10.253.32.7' : undefined), () => undefined, port, {
    address: '127.0.0.1', port: upstreamPort, isOurs: (name) => !name.includes('.'), mayAsk: (ip) => ip === '127.0.0.1',
  });
  const resolver = new Resolver({ timeout: 2000, tries: 1 });

  before(async () => {
    expect(await upstream.listen('127.0.0.1')).to.equal(true);
    expect(await server.listen('127.0.0.1')).to.equal(true);
    resolver.setServers([`127.0.0.1:${port}`]);
  });
  after(() => Promise.all([server.close(), upstream.close()]));

  it('relays other names to the upstream and its answers back, NXDOMAIN included', async () => {
    expect(await resolver.resolve4('outside.example')).to.deep.equal(['10.9.8.7']);
    const missing = await resolver.resolve4('nothing.example').catch((e: NodeJS.ErrnoException) => e.code);
    expect(missing).to.equal('ENOTFOUND');
    expect(upstreamAsked).to.include.members(['outside.example', 'nothing.example']);
  });

  it('answers its own names itself, and never forwards an unknown one of them', async () => {
    expect(await resolver.resolve4('db')).to.deep.equal(['10.253.32.7']);
    const missing = await resolver.resolve4('nosuch').catch((e: NodeJS.ErrnoException) => e.code);
    expect(missing).to.equal('ENOTFOUND');
    expect(upstreamAsked).to.not.include('nosuch').and.not.include('db');
  });

  it('forwards for its own askers only: it is no open resolver', async () => {
    const strict = new NameServer(() => undefined, () => undefined, port + 2, {
      address: '127.0.0.1', port: upstreamPort, isOurs: () => false, mayAsk: () => false,
    });
    try {
      expect(await strict.listen('127.0.0.1')).to.equal(true);
      const asker = new Resolver({ timeout: 2000, tries: 1 });
      asker.setServers([`127.0.0.1:${port + 2}`]);
      const refused = await asker.resolve4('elsewhere.example').catch((e: NodeJS.ErrnoException) => e.code);
      expect(refused).to.equal('ENOTFOUND');
      expect(upstreamAsked).to.not.include('elsewhere.example');
    } finally {
      await strict.close();
    }
  });
});

describe('hostResolver (the upstream a location forwards to by default)', () => {
  it('is the first IPv4 nameserver of resolv.conf; none without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfnz-resolv-'));
    try {
      const file = join(dir, 'resolv.conf');
      writeFileSync(file, '# comment\nsearch example\nnameserver ::1\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n');
      expect(hostResolver(file)).to.equal('10.0.0.53');
      writeFileSync(file, 'search example\n');
      expect(hostResolver(file)).to.equal(undefined);
      expect(hostResolver(join(dir, 'missing'))).to.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
