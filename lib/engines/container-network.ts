/**
 * The IPv4 subnet and gateway of a Docker network, read from `docker network inspect`. Docker
 * leaves IPAM's `Gateway` out on some engines (the default bridge on this project's own CI machine
 * lists only `Subnet`), so a missing gateway is found as Docker itself chose it: the address of the
 * network's bridge interface on this machine when it lies in the subnet, else the subnet's first
 * host address, which is what Docker's default IPAM hands the bridge.
 */
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
  const v4 = (network.IPAM?.Config ?? []).find((c) => c.Subnet && parseCidr(c.Subnet));
  if (!v4) return undefined;
  const subnet = v4.Subnet!;
  const gateway = v4.Gateway?.split('/')[0] || bridgeAddress(network, subnet, interfaces) || firstHost(subnet);
  return gateway ? { subnet, gateway } : undefined;
}

/** The bridge's own address here: docker0 for the default bridge, br-<id> for a user-defined one. */
function bridgeAddress(network: NetworkInspect, subnet: string, interfaces: Interfaces): string | undefined {
  const name = network.Options?.['com.docker.network.bridge.name']
    ?? (network.Driver === 'bridge' && network.Id ? `br-${network.Id.slice(0, 12)}` : undefined);
  if (!name) return undefined;
  return interfaces[name]?.find((a) => a.family === 'IPv4' && inSubnet(a.address, subnet))?.address;
}

function firstHost(subnet: string): string | undefined {
  const cidr = parseCidr(subnet)!;
  if (cidr.bits >= 31) return undefined; // no room for a gateway beside the containers
  return toAddress(cidr.base + 1);
}

function inSubnet(address: string, subnet: string): boolean {
  const cidr = parseCidr(subnet);
  const ip = toNumber(address);
  return !!cidr && ip !== undefined && ((ip ^ cidr.base) & cidr.mask) >>> 0 === 0;
}

function parseCidr(subnet: string): { base: number; mask: number; bits: number } | undefined {
  const [address, bitsText] = subnet.split('/');
  const base = toNumber(address);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (base & mask) >>> 0, mask, bits };
}

function toNumber(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (octets.some((o) => !(o >= 0 && o <= 255))) return undefined;
  return octets.reduce((n, o) => n * 256 + o, 0);
}

function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}
