/**
 * A normal SDK session that must keep working while another client attacks the location: it holds
 * a running container from the start, and `stillServes` proves the location still does real work.
 */
import { expect } from 'chai';
import type { WebSocket } from 'ws';
import { Location, type Container } from '../../lib/index';
import { encodeFrame } from '../../lib/protocol';
import { rawClient } from './raw-client';

export interface Bystander {
  loc: Location;
  ctr: Container;
}

export async function bystander(url: string): Promise<Bystander> {
  const loc = await Location.connect({ location: url, quiet: true });
  const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
  await ctr.ready();
  return { loc, ctr };
}

/** Its container still runs commands, and a fresh container spawns, runs and goes (count unchanged). */
export async function stillServes({ loc, ctr }: Bystander): Promise<void> {
  // When it is not running, say why (CI saw it 'destroyed' once after fuzzing, with no reason shown).
  const info = ctr.info;
  expect(ctr.status, `the bystander's container (${JSON.stringify({ status: info.status, exitCode: info.exitCode, error: info.error })})`).to.equal('running');
  const echoed = await ctr.runProcess('echo alive');
  expect(echoed.stdout.toString()).to.equal('alive\n');
  const fresh = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
  await fresh.ready();
  expect((await fresh.runProcess(['sh', '-c', 'echo $((6*7))'])).stdout.toString()).to.equal('42\n');
  await loc.node().destroyContainer(fresh);
}

/** How the socket closed: its close code and reason. */
export function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve({ code: 1006, reason: '' });
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** A raw client whose socket errors (the location cutting it off) are expected, not crashes. */
export async function attacker(url: string) {
  const raw = await rawClient(url);
  raw.ws.on('error', () => undefined);
  return raw;
}

/** A raw client with an open session as `user` (the location must be --open). */
export async function openedAttacker(url: string, user = 'mallory') {
  const raw = await attacker(url);
  const reply = await raw.request('open_session', { client: 'spec', user });
  if (reply.error) throw new Error(`open_session failed: ${reply.error.message}`);
  return { ...raw, session: (reply.result as { session: string }).session };
}

/** A one-way message, as the SDK sends them (id 0), with optional bulk bytes. */
export function message(name: string, params: unknown, bulk?: Uint8Array): Buffer {
  return encodeFrame({ kind: 'request', id: 0, command: name, params, bulk });
}
