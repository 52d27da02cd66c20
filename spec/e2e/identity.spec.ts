import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { nanoid } from 'nanoid';
import { Location } from '../../lib/index';
import { ensureAccount, signChallenge } from '../../lib/client/accounts';
import { embeddedAccount } from '../../lib/client/embedded';
import type { EventFrame } from '../../lib/protocol';
import { rawClient } from '../support/raw-client';
import { exited, startLocationProcess } from '../support/processes';
import { freshHome, inHome } from '../support/home';
import { echo } from '../support/container-output';

/** Open a session on a raw socket with `params` (after the challenge); the reply frame. */
async function openRaw(url: string, params: (nonce: Uint8Array) => Record<string, unknown>) {
  const raw = await rawClient(url);
  const challenge = (await raw.next((f) => f.kind === 'event' && f.event === 'challenge')) as EventFrame;
  const reply = await raw.request('open_session', { client: 'spec', ...params((challenge.params as { nonce: Uint8Array }).nonce) });
  return { raw, reply };
}

describe('identity: nobody passes for a keyed user, and the embedded location admits only its owner', function () {
  this.timeout(120_000);
  const homes: string[] = [];
  after(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

  it('an --open location refuses a key-derived user id as a plain name, and keeps serving its owner', async () => {
    const { child, url } = await startLocationProcess(`spec-identity-${nanoid(6)}`);
    const home = freshHome('identity-owner');
    homes.push(home);
    const owner = await inHome(home, () => {
      ensureAccount(url);
      return Location.connect({ location: url, quiet: true });
    });
    try {
      expect(owner.state.user).to.match(/^u-[0-9a-f]{16}$/);
      const box = owner.node().spawnContainer('busybox', { command: ['sleep', '3600'], tag: 'owned' });
      await box.ready();
      for (const user of [owner.state.user!, owner.state.user!.toUpperCase()]) {
        const { raw, reply } = await openRaw(url, () => ({ user }));
        expect(reply.error?.code, user).to.equal('UNAUTHORIZED');
        expect(reply.error?.message).to.include('key-derived');
        raw.ws.close();
      }
      // A plain name still works on an open location, and does not see the owner's containers.
      const { raw, reply } = await openRaw(url, () => ({ user: 'alice' }));
      expect(reply.error).to.equal(undefined);
      expect((reply.result as { user: string }).user).to.equal('alice');
      const offer = (await raw.next((f) => f.kind === 'event' && f.event === 'resource_offer')) as EventFrame;
      expect((offer.params as { externals: unknown[] }).externals).to.deep.equal([]);
      raw.ws.close();
      // The bystander carries on.
      expect(box.status).to.equal('running');
      expect(await echo(owner, 'still mine')).to.equal('still mine');
    } finally {
      await owner.disconnect();
      child.kill('SIGTERM');
      await exited(child);
    }
  });

  it('the embedded location makes its owner\'s key on first use and admits no one else', async () => {
    const home = freshHome('identity-embedded');
    const other = freshHome('identity-other');
    homes.push(home, other);
    const saved = process.env.TFNZ_LOCATION;
    delete process.env.TFNZ_LOCATION;
    const loc = await inHome(home, () => Location.connect({ quiet: true })).finally(() => {
      if (saved !== undefined) process.env.TFNZ_LOCATION = saved;
    });
    try {
      const account = await inHome(home, () => embeddedAccount());
      expect(loc.state.user, 'the session is the embedded account\'s user').to.equal(account.userId);
      expect(loc.url).to.match(/^ws:\/\/127\.0\.0\.1:\d+$/);
      const box = loc.node().spawnContainer('busybox', { command: ['sleep', '3600'] });
      await box.ready();
      // Another local user: no key, a plain name, the owner's id, or a key of their own.
      const stranger = await inHome(other, () => ensureAccount('embedded'));
      const attempts: [string, (nonce: Uint8Array) => Record<string, unknown>][] = [
        ['no key', () => ({})],
        ['a plain name', () => ({ user: 'local' })],
        ['the owner\'s id', () => ({ user: account.userId })],
        ['another key', (nonce) => ({ key: stranger.publicKey, proof: signChallenge(stranger, nonce) })],
        ['the owner\'s key without its proof', (nonce) => ({ key: account.publicKey, proof: signChallenge(stranger, nonce) })],
      ];
      for (const [what, params] of attempts) {
        const { raw, reply } = await openRaw(loc.url, params);
        expect(reply.error?.code, what).to.equal('UNAUTHORIZED');
        raw.ws.close();
      }
      expect(box.status).to.equal('running');
      expect(await echo(loc, 'owner only')).to.equal('owner only');
    } finally {
      await loc.disconnect();
    }
  });
});
