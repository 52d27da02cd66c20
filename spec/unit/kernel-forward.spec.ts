import { expect } from 'chai';
import { routeInterface, staleRules } from '../../lib/client/kernel-forward';

describe('kernel-forwarded tunnels: reading the host (pure)', () => {
  // /proc/net/route as this kernel writes it: addresses little-endian hex.
  const routes = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'tfnzbr9\t0000D10A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'br-wide\t000010AC\t00000000\t0001\t0\t0\t0\t0000F0FF\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'down0\t0000140A\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');

  it('finds the bridge a container address is reached through, the longest match winning', () => {
    expect(routeInterface(routes, '10.209.0.7')).to.equal('tfnzbr9');
    expect(routeInterface(routes, '172.17.0.2')).to.equal('docker0');
    expect(routeInterface(routes, '172.18.3.4')).to.equal('br-wide');
  });

  it('finds none for an address only the default route or a gateway reaches, a route that is down, or no address', () => {
    expect(routeInterface(routes, '203.0.113.9')).to.equal(undefined);
    expect(routeInterface(routes, '10.20.0.1')).to.equal(undefined);
    expect(routeInterface(routes, 'not-an-ip')).to.equal(undefined);
  });

  it('picks the tunnel rules of processes that are gone, and nothing else', () => {
    const listing = [
      '-P OUTPUT ACCEPT',
      '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 41000 -m comment --comment tfnz-tunnel:111:abc -j DNAT --to-destination 10.209.0.7:9000',
      '-A POSTROUTING -s 127.0.0.0/8 -d 10.209.0.7/32 -p tcp -m tcp --dport 9000 -m comment --comment tfnz-tunnel:111:abc -j MASQUERADE',
      '-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 41001 -m comment --comment tfnz-tunnel:222:def -j DNAT --to-destination 10.209.0.8:80',
      '-A POSTROUTING -m comment --comment "tfnz-tunnelish:111:x y" -j MASQUERADE',
      '-A POSTROUTING -m comment --comment tfnz:loc:deny:111 -j MASQUERADE',
    ].join('\n');
    const stale = staleRules(listing, (pid) => pid === 222);
    expect(stale).to.have.length(2);
    expect(stale[0].slice(0, 3)).to.deep.equal(['OUTPUT', '-d', '127.0.0.1/32']);
    expect(stale[1][0]).to.equal('POSTROUTING');
    expect(stale.every((args) => args.includes('tfnz-tunnel:111:abc'))).to.equal(true);
  });
});
