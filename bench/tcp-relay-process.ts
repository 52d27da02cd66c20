/**
 * A plain Node TCP relay in a process of its own (bench/front-door.ts's third peer): every
 * connection piped both ways to the host:port given, no parsing, no routing. It prints its
 * loopback port once listening and runs until killed.
 */
import type { AddressInfo } from 'node:net';
import { startRelay } from './tcp-relay';

const [host, port] = process.argv.slice(2);
const server = await startRelay(host, Number(port));
console.log((server.address() as AddressInfo).port);
