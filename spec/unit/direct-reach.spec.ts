import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { reachesDirectly, type DirectReach } from '../../lib/client/direct-reach';
import { networkStackId } from '../../lib/shared/network-stack';
import type { NodeInfo } from '../../lib/protocol';

const node = (onLocationStack?: boolean): NodeInfo => ({
  id: 'n', name: 'n', alive: true, stats: { cpu: 100, memory: 100, paging: 0, containers: 0 }, ...(onLocationStack !== undefined && { onLocationStack }),
});
const STACK = 'boot-a/net:[4026531840]';
const remote = (over: Partial<DirectReach> = {}): DirectReach => ({ allowed: true, embedded: false, ownStack: STACK, locationStack: STACK, ...over });

describe('direct tunnels: which containers this process reaches itself', () => {
  it('reaches the local nodes of a location on its own network stack', () => {
    expect(reachesDirectly(remote(), node(true))).to.equal(true);
  });

  it('goes through the location for a node on another host or network, whatever the stacks', () => {
    expect(reachesDirectly(remote(), node(false))).to.equal(false);
    expect(reachesDirectly(remote(), node())).to.equal(false);
    expect(reachesDirectly(remote(), undefined)).to.equal(false);
  });

  it('goes through the location when the stacks differ (another namespace or boot), or either end cannot tell', () => {
    expect(reachesDirectly(remote({ locationStack: 'boot-a/net:[4026532000]' }), node(true))).to.equal(false);
    expect(reachesDirectly(remote({ locationStack: 'boot-b/net:[4026531840]' }), node(true))).to.equal(false);
    expect(reachesDirectly(remote({ locationStack: undefined }), node(true))).to.equal(false);
    expect(reachesDirectly(remote({ ownStack: undefined, locationStack: undefined }), node(true))).to.equal(false);
  });

  it('always reaches an embedded location\'s nodes, unless the user turned direct tunnels off', () => {
    expect(reachesDirectly(remote({ embedded: true, locationStack: undefined }), node())).to.equal(true);
    expect(reachesDirectly(remote({ embedded: true, allowed: false }), node(true))).to.equal(false);
    expect(reachesDirectly(remote({ allowed: false }), node(true))).to.equal(false);
  });

  it('names this process\'s stack by the boot id and the network namespace', () => {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(networkStackId()).to.match(/\/net:\[\d+\]$/).and.satisfy((id: string) => id.startsWith(`${bootId}/`));
  });
});
