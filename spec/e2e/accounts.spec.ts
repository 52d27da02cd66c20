import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { Location, Unauthorized } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { userIdOf } from '../../lib/protocol/identity';
import { rawClient } from '../support/raw-client';

/** Run the tfnz command with this spec's account folder; its stdout. */
function tfnz(home: string, ...args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], {
    env: { ...process.env, TFNZ_HOME: home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('accounts: a location that admits only users it knows', function () {
  this.timeout(60_000);
  let home: string;
  let server: LocationServer;
  let where: string;
  const savedHome = process.env.TFNZ_HOME;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'tfnz-accounts-'));
    process.env.TFNZ_HOME = home;
    server = await LocationServer.start({ name: `spec-acct-${nanoid(6)}`, port: 0, authorizedKeys: join(home, 'authorized_keys') });
    where = `127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.close();
    if (savedHome === undefined) delete process.env.TFNZ_HOME;
    else process.env.TFNZ_HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses a program with no account, saying how to get one', async () => {
    const err = await Location.connect({ location: where, quiet: true }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(Unauthorized).with.property('message').that.contains('tfnz account create');
  });

  it('admits the key once its operator authorised it, as the same user every time', async () => {
    const key = tfnz(home, 'account', 'create', where).trim().split(/\s+/)[0];
    expect(statSync(join(home, `127.0.0.1_${server.port}.key`)).mode & 0o777, 'the private key is private').to.equal(0o600);
    expect(Location.allLocations()).to.include(where);

    const refused = await Location.connect({ location: where, quiet: true }).then(() => null, (e: Error) => e);
    expect(refused).to.be.instanceOf(Unauthorized).with.property('message').that.contains(`tfnz authorize ${key}`);

    tfnz(home, 'authorize', key, '--authorized-keys', join(home, 'authorized_keys'));
    const first = await Location.connect({ location: where, quiet: true });
    const second = await Location.connect({ location: where, quiet: true });
    try {
      expect(first.state.user).to.equal(userIdOf(key));
      expect(second.state.user).to.equal(first.state.user);
      expect(second.state.session).to.not.equal(first.state.session);
    } finally {
      await first.disconnect();
      await second.disconnect();
    }
  });

  it('refuses someone who shows a known key without its private half', async () => {
    const known = tfnz(home, 'account', 'list');
    expect(known).to.contain(where);
    const key = tfnz(home, 'account', 'create', where).trim().split(/\s+/)[0]; // existing: prints it again
    const impostor = await rawClient(server.url);
    const reply = await impostor.request('open_session', { client: 'spec', key, proof: Buffer.alloc(64, 7) });
    expect(reply.error?.code).to.equal('UNAUTHORIZED');
    const named = await impostor.request('open_session', { client: 'spec', user: 'somebody' });
    expect(named.error?.code, 'a closed location takes no names on trust').to.equal('UNAUTHORIZED');
    impostor.ws.close();
  });
});
