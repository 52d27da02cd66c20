/** The benches' plain Node TCP relay: what one JS hop costs, beside tfnz's own paths. */
import { connect, createServer, type Server } from 'node:net';

/** A plain in-process TCP relay to host:port (socket.pipe both ways, half-close preserved). */
export function startRelay(host: string, port: number): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (inbound) => {
    const outbound = connect({ host, port, allowHalfOpen: true, noDelay: true });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
