import { expect } from 'chai';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { CertificateChanged, InsecureLink, Location, LocationUnreachable, Unauthorized } from '../../lib/index';
import { ensureAccount } from '../../lib/client/accounts';
import { knownLocationsFile } from '../../lib/client/tls-pinning';
import { authorize } from '../../lib/server/authorized-users';
import { startLocationProcess, stopProcess } from '../support/processes';
import { freshHome, inHome } from '../support/home';
import { TlsRelay } from '../support/tls-relay';
import { FaultProxy } from '../support/fault-proxy';
import { nextLink } from '../support/session-link';
import { exchange, sha256 } from '../support/net';
import { echo } from '../support/container-output';

describe('transport: wss:// with the certificate pinned on first use, proofs bound to the link', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  let child: Awaited<ReturnType<typeof startLocationProcess>>['child'];
  let url: string;
  let cacheDir: string;
  let ownerHome: string;
  let owner: Location;
  let relay: TlsRelay | undefined;

  before(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'tfnz-transport-cache-'));
    ownerHome = freshHome('transport-owner');
    dirs.push(cacheDir, ownerHome);
    const keys = join(cacheDir, 'authorized_keys');
    writeFileSync(keys, '');
    ({ child, url } = await startLocationProcess(`spec-transport-${nanoid(6)}`, ['--authorized-keys', keys, '--cache-dir', cacheDir], 0, { tls: true }));
    authorize(keys, (await inHome(ownerHome, () => ensureAccount(url))).publicKey);
    // directTunnels off: this location shares our network stack, and tunnel bytes must cross its TLS.
    owner = await inHome(ownerHome, () => Location.connect({ location: url, quiet: true, directTunnels: false }));
  });
  after(async () => {
    await owner?.disconnect();
    await relay?.close();
    await stopProcess(child);
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('tfnz location serves wss:// with a self-signed certificate kept in its cache dir, pinned by the SDK on first use', async () => {
    expect(url).to.match(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const cert = new X509Certificate(readFileSync(join(cacheDir, 'tls', 'cert.pem')));
    const pins = await inHome(ownerHome, () => readFileSync(knownLocationsFile(), 'utf8'));
    expect(pins).to.equal(`${new URL(url).host} ${cert.fingerprint256}\n`);
    expect(await echo(owner, 'over tls')).to.equal('over tls');
    // Again with the pin in place: the same certificate is accepted, the file unchanged.
    const again = await inHome(ownerHome, () => Location.connect({ location: url, quiet: true }));
    await again.disconnect();
    expect(await inHome(ownerHome, () => readFileSync(knownLocationsFile(), 'utf8'))).to.equal(pins);
  });

  it('carries a tunnel\'s bytes on data connections through the same TLS and pinned certificate, byte-exact', async () => {
    const cat = owner.node().spawnContainer('busybox', { command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
    await cat.waitTcp(9000);
    const tunnel = await cat.attachTunnel(9000);
    expect(tunnel.path).to.equal('location');
    const payloads = [randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024)];
    const back = await Promise.all(payloads.map((p) => exchange(tunnel.localPort, p)));
    back.forEach((b, i) => expect(sha256(b), `connection ${i}`).to.equal(sha256(payloads[i])));
    await owner.node().destroyContainer(cat);
  });

  it('a relay that terminates TLS itself cannot use the proof it passes on; the owner carries on', async () => {
    relay = await TlsRelay.start(url);
    // A user who has never connected pins whatever answers first (here: the relay) ...
    const home = freshHome('transport-relayed');
    dirs.push(home);
    const err = await inHome(home, async () => {
      // Their account, authorised at the location: only the relay stands in the way.
      authorize(join(cacheDir, 'authorized_keys'), ensureAccount(relay!.url).publicKey);
      return Location.connect({ location: relay!.url, quiet: true }).then(() => undefined, (e: Error) => e);
    });
    // ... but their proof names the relay's certificate, so the location refuses it.
    expect(err).to.be.instanceOf(Unauthorized);
    expect(err!.message).to.match(/relaying/);
    expect(relay.forwarded, 'the relay did pass the frames on').to.be.greaterThan(0);
    expect(await echo(owner, 'untouched')).to.equal('untouched');
  });

  it('resumes over wss:// after a cut, proving the session again bound to the same certificate', async () => {
    const proxy = await FaultProxy.start(Number(new URL(url).port));
    try {
      const via = `wss://127.0.0.1:${proxy.port}`;
      const loc = await inHome(ownerHome, () => {
        authorize(join(cacheDir, 'authorized_keys'), ensureAccount(via).publicKey);
        return Location.connect({ location: via, quiet: true });
      });
      try {
        const box = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
        await box.ready();
        const lost = nextLink(loc, 'lost');
        const resumed = nextLink(loc, 'resumed');
        proxy.cut();
        await lost;
        proxy.restore();
        await resumed;
        expect(box.status).to.equal('running');
        expect(await echo(loc, 'resumed over tls')).to.equal('resumed over tls');
      } finally {
        await loc.disconnect();
      }
    } finally {
      await proxy.close();
    }
  });

  it('a changed certificate is CertificateChanged, saying how to re-pin', async () => {
    const home = freshHome('transport-changed');
    dirs.push(home);
    await inHome(home, () => {
      ensureAccount(url);
      writeFileSync(knownLocationsFile(), `${new URL(url).host} ${'AB:'.repeat(31)}AB\n`);
    });
    const err = await inHome(home, () => Location.connect({ location: url, quiet: true }).then(() => undefined, (e: Error) => e));
    expect(err).to.be.instanceOf(CertificateChanged);
    expect(err!.message).to.include('known_locations').and.include('remove the line');
  });

  it('trusts a CA the user names instead of pinning, and refuses a certificate it did not issue', async () => {
    const home = freshHome('transport-ca');
    dirs.push(home);
    const ca = join(cacheDir, 'tls', 'cert.pem');
    const loc = await inHome(home, () => {
      authorize(join(cacheDir, 'authorized_keys'), ensureAccount(url).publicKey);
      return Location.connect({ location: url, quiet: true, tlsCa: ca });
    });
    await loc.disconnect();
    const err = await inHome(home, () => Location.connect({ location: url, quiet: true, tlsCa: relay!.cert }).then(() => undefined, (e: Error) => e));
    expect(err).to.be.instanceOf(LocationUnreachable);
    expect(err!.message).to.match(/certificate/i);
  });

  it('refuses plain ws:// beyond loopback before dialling; loopback ws:// is dialled', async () => {
    for (const location of ['ws://192.0.2.1:2020', 'ws://example.invalid:2020']) {
      const err = await Location.connect({ location, quiet: true }).then(() => undefined, (e: Error) => e);
      expect(err, location).to.be.instanceOf(InsecureLink);
      expect(err!.message).to.include('wss://');
    }
    const err = await Location.connect({ location: 'ws://127.0.0.1:1', quiet: true }).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(LocationUnreachable);
  });
});
