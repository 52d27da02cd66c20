import { expect } from 'chai';
import type { NetworkInterfaceInfo } from 'node:os';
import { containerNetwork } from '../../lib/engines/container-network';

const v4 = (address: string): NetworkInterfaceInfo =>
  ({ address, family: 'IPv4', netmask: '255.255.0.0', mac: '02:42:00:00:00:00', internal: false, cidr: `${address}/16` });
const bridge = { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' } };

describe('the containers\' network: subnet and gateway from docker network inspect', () => {
  it('takes the gateway Docker lists', () => {
    const found = containerNetwork({ ...bridge, IPAM: { Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] } }, {});
    expect(found).to.deep.equal({ subnet: '172.17.0.0/16', gateway: '172.17.0.1' });
  });

  it('finds an unlisted gateway as the bridge interface\'s own address in the subnet', () => {
    const interfaces = { docker0: [v4('10.99.0.254')], eth0: [v4('10.99.0.1')] };
    const found = containerNetwork({ ...bridge, IPAM: { Config: [{ Subnet: '10.99.0.0/16' }] } }, interfaces);
    expect(found).to.deep.equal({ subnet: '10.99.0.0/16', gateway: '10.99.0.254' });
  });

  it('names a user-defined bridge\'s interface by its id', () => {
    const network = { Id: '0123456789abcdef', Driver: 'bridge', Options: {}, IPAM: { Config: [{ Subnet: '172.20.0.0/16' }] } };
    expect(containerNetwork(network, { 'br-0123456789ab': [v4('172.20.0.9')] })?.gateway).to.equal('172.20.0.9');
  });

  it('falls back to the subnet\'s first host address when no interface here holds one', () => {
    const found = containerNetwork({ ...bridge, IPAM: { Config: [{ Subnet: '172.18.5.0/24' }] } }, { docker0: [v4('192.168.1.1')] });
    expect(found).to.deep.equal({ subnet: '172.18.5.0/24', gateway: '172.18.5.1' });
  });

  it('skips IPv6 and finds none without an IPv4 subnet', () => {
    const both = { ...bridge, IPAM: { Config: [{ Subnet: 'fd00::/64', Gateway: 'fd00::1' }, { Subnet: '172.17.0.0/16' }] } };
    expect(containerNetwork(both, {})?.gateway).to.equal('172.17.0.1');
    expect(containerNetwork({ ...bridge, IPAM: { Config: [{ Subnet: 'fd00::/64' }] } }, {})).to.equal(undefined);
    expect(containerNetwork({ ...bridge, IPAM: null }, {})).to.equal(undefined);
  });
});
