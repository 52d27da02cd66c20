import { expect } from 'chai';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IptablesShells } from '../../lib/shared/iptables-shell';

/**
 * The long-lived shells that run `iptables` for the location's host firewall, with a stand-in
 * script in place of `iptables` (what real rules do is spec/e2e/firewall.spec.ts): each argument
 * arrives whole, output and failures come back to the right caller.
 */
describe('IptablesShells', () => {
  let dir: string;
  let fake: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tfnz-iptables-shell-'));
    fake = join(dir, 'fake-iptables');
    // Prints each argument on its own line, in brackets; `fail` exits 4 with a message on stderr;
    // `big N` prints N lines; `slow` takes a moment (so several shells are busy at once).
    await writeFile(fake, [
      '#!/bin/sh',
      'case "$2" in',
      '  fail) echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 4 ;;',
      '  big) seq 1 "$3"; exit 0 ;;',
      '  slow) sleep 0.2 ;;',
      'esac',
      'for a in "$@"; do echo "[$a]"; done',
    ].join('\n'));
    await chmod(fake, 0o755);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes every argument whole (spaces, quotes, globs, empty) after -w, and returns the output', async () => {
    const shells = new IptablesShells(fake);
    const args = ['-A', 'TFNZ-DENY', '--comment', 'tfnz:a b  c', `it's "quoted"`, '*', '', '$HOME'];
    const out = await shells.run(args);
    expect(out.split('\n')).to.deep.equal(['-w', ...args].map((a) => `[${a}]`));
  });

  it('rejects with the exit code and the message when the command fails, and goes on serving', async () => {
    const shells = new IptablesShells(fake);
    const err = await shells.run(['fail']).then(() => undefined, (e: Error & { code?: number; stderr?: string }) => e);
    expect(err?.code).to.equal(4);
    expect(err?.message).to.match(/Bad rule/);
    expect(err?.stderr).to.match(/Bad rule/);
    expect(await shells.run(['ok'])).to.equal('[-w]\n[ok]');
  });

  it('returns large outputs whole (a filter table of many rules)', async () => {
    const shells = new IptablesShells(fake);
    const out = await shells.run(['big', '50000']);
    const lines = out.split('\n');
    expect(lines).to.have.length(50_000);
    expect(lines[0]).to.equal('1');
    expect(lines[49_999]).to.equal('50000');
  });

  it('answers concurrent commands each to its own caller, with at most maxShells shells', async () => {
    const shells = new IptablesShells(fake, 2);
    const runs = Array.from({ length: 7 }, (_, i) => shells.run(i % 2 ? ['slow', String(i)] : ['quick', String(i)]));
    expect(shells.size).to.equal(2);
    const outs = await Promise.all(runs);
    outs.forEach((out, i) => expect(out.split('\n').at(-1)).to.equal(`[${i}]`));
  });

  it('runs arguments it cannot frame (a newline) by a plain fork, with the same answer', async () => {
    const shells = new IptablesShells(fake);
    expect(await shells.run(['two\nlines'])).to.equal('[-w]\n[two\nlines]\n');
    expect(shells.size).to.equal(0);
  });
});
