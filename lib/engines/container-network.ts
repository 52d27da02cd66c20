/**
 * The IPv4 subnet and gateway of a Docker network, read from `docker network inspect`. Docker
 * leaves IPAM's `Gateway` out on some engines (the default bridge on this project's own CI machine
 * lists only `Subnet`), so a missing gateway is found as Docker itself chose it: the address of the
 * network's bridge interface on this machine when it lies in the subnet, else the subnet's first
 * host address, which is what Docker's default IPAM hands the bridge.
 */
import { BlockList, isIPv4 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

export interface ContainerNetwork {
  subnet: string;
  gateway: string;
}

export interface NetworkInspect {
  Id?: string;
  Driver?: string;
  Options?: Record<string, string> | null;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null } | null;
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export function containerNetwork(network: NetworkInspect, interfaces: Interfaces): ContainerNetwork | undefined {
  for (const { Subnet: subnet, Gateway: listed } of network.IPAM?.Config ?? []) {
    const cidr = subnet ? parseCidr(subnet) : undefined;
    if (!cidr) continue; // IPv6
    const gateway = listed?.split('/')[0] || bridgeAddress(network, cidr, interfaces) || firstHost(cidr);
    return gateway ? { subnet: subnet!, gateway } : undefined;
  }
  return undefined;
}

/** The bridge's own address here: docker0 for the default bridge, br-<id> for a user-defined one. */
function bridgeAddress(network: NetworkInspect, cidr: Cidr, interfaces: Interfaces): string | undefined {
  const name = network.Options?.['com.docker.network.bridge.name']
    ?? (network.Driver === 'bridge' && network.Id ? `br-${network.Id.slice(0, 12)}` : undefined);
  if (!name) return undefined;
  const subnet = new BlockList();
  subnet.addSubnet(cidr.base, cidr.bits, 'ipv4');
  return interfaces[name]?.find((a) => a.family === 'IPv4' && subnet.check(a.address, 'ipv4'))?.address;
}

/** The subnet's first host address, or none in a /31 or /32 (no room for a gateway beside containers). */
function firstHost(cidr: Cidr): string | undefined {
  if (cidr.bits >= 31) return undefined;
  const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
  const first = ((toNumber(cidr.base) & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((shift) => (first >>> shift) & 255).join('.');
}

interface Cidr {
  base: string;
  bits: number;
}

/** An IPv4 CIDR (`172.17.0.0/16`); none for IPv6 or anything malformed. */
function parseCidr(subnet: string): Cidr | undefined {
  const [base, bitsText] = subnet.split('/');
  const bits = Number(bitsText);
  return isIPv4(base) && Number.isInteger(bits) && bits >= 0 && bits <= 32 ? { base, bits } : undefined;
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}
