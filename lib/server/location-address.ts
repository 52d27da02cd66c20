/** The location's own address as a node's host sees it (packet-filter rules, the name server). */
import { lookup } from 'node:dns/promises';
import { createSocket } from 'node:dgram';

/**
 * The location's own address on the way to an engine's host: the source address the host sees on
 * its tunnels and front-door connections. (A connected UDP socket only asks the routing table.)
 */
export async function localAddressTowards(engineAddress: string): Promise<string> {
  const host = new URL(engineAddress).hostname.replace(/^\[|\]$/g, '');
  const { address, family } = await lookup(host);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
