import { expect } from 'chai';
import { HostFirewall, type IptablesRunner } from '../../lib/engines/host-firewall';

/**
 * Which iptables runs a deny makes, with a recording runner standing in for the host's iptables
 * (the rules' effect on real traffic is spec/e2e/firewall.spec.ts).
 */
function recorder(table: string): { runner: IptablesRunner; runs: string[][] } {
  const runs: string[][] = [];
  const runner: IptablesRunner = async (args) => {
    runs.push(args);
    return args[0] === '-S' ? table : '';
  };
  return { runner, runs };
}

/** A rule a location that died without cleaning up left about 172.17.0.9: it would let 172.17.0.5 in. */
const STALE = '-A TFNZ-ALLOW -s 172.17.0.5/32 -d 172.17.0.9/32 -m comment --comment "tfnz:gone:allow:old:other" -j ACCEPT';

describe('HostFirewall.deny', () => {
  it('lists the filter table itself and deletes stale rules about the address when given no listing', async () => {
    const { runner, runs } = recorder(`${STALE}\n`);
    const firewall = new HostFirewall('loc', runner);
    await firewall.deny('new', '172.17.0.9');
    const changes = runs.filter((r) => r[0] === '-A' || r[0] === '-D' || r[0] === '-S');
    expect(changes.filter((r) => r[0] === '-S')).to.have.length(1);
    expect(changes.some((r) => r[0] === '-A' && r[1] === 'TFNZ-DENY' && r.includes('172.17.0.9'))).to.equal(true);
    expect(changes.find((r) => r[0] === '-D')?.join(' ')).to.equal(`-D ${STALE.slice(3).replace(/"/g, '')}`);
  });

  it('with a listing taken while the container started, only appends its rule and deletes what that listing shows', async () => {
    const { runner, runs } = recorder('');
    const firewall = new HostFirewall('loc', runner);
    await firewall.deny('new', '172.17.0.9', Promise.resolve(`${STALE}\n`));
    expect(runs.filter((r) => r[0] === '-S'), 'no listing of its own').to.deep.equal([]);
    expect(runs.some((r) => r[0] === '-A' && r[1] === 'TFNZ-DENY' && r.includes('172.17.0.9'))).to.equal(true);
    expect(runs.find((r) => r[0] === '-D')?.join(' ')).to.equal(`-D ${STALE.slice(3).replace(/"/g, '')}`);
  });

  it('when the early listing failed (its host agent was not up yet), lists again and still deletes stale rules', async () => {
    const { runner, runs } = recorder(`${STALE}\n`);
    const firewall = new HostFirewall('loc', runner);
    await firewall.deny('new', '172.17.0.9', Promise.resolve(undefined));
    expect(runs.filter((r) => r[0] === '-S')).to.have.length(1);
    expect(runs.some((r) => r[0] === '-A' && r[1] === 'TFNZ-DENY' && r.includes('172.17.0.9'))).to.equal(true);
    expect(runs.find((r) => r[0] === '-D')?.join(' ')).to.equal(`-D ${STALE.slice(3).replace(/"/g, '')}`);
  });
});
