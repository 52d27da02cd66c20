/**
 * A direct tunnel connection: with the embedded location, or one on this process's network stack
 * (direct-reach.ts), the container's private address is reachable from this process, so an accepted local connection is piped straight to the
 * container's socket: one hop, no framing, no WebSocket, and the kernel's TCP windows for flow
 * control (pipe() pauses the faster side). The location keeps the tunnel's record (quotas, state)
 * but carries none of its bytes. It runs on the direct relay's own thread (direct-relay.ts).
 */
import type { Socket } from 'node:net';

/**
 * Relay `local` <-> `remote` until both are closed; half-closes cross over (either side may end
 * first and keep reading). `onClosed` runs once, when both sockets are gone. `flushMs`: how long a
 * side that closed may take to hand its last bytes to a slow reader on the other.
 *
 * Self-contained (it uses nothing from this module's scope): the relay thread runs it from its
 * source text.
 */
export function spliceSockets(local: Socket, remote: Socket, onClosed: () => void, flushMs = 30_000): void {
  local.setNoDelay(true);
  remote.setNoDelay(true);
  local.pipe(remote);
  remote.pipe(local);
  const closed = new Set<Socket>();
  const follow = (from: Socket, to: Socket) => {
    from.on('error', () => to.destroy());
    from.on('close', () => {
      closed.add(from);
      if (closed.size === 2) return onClosed();
      // A clean close: what `from` sent may still wait in `to`'s buffer for a slow reader; flush
      // it (pipe() has ended `to` already), then tear down. An abort tears down at once.
      if (!from.readableEnded) return void to.destroy();
      const stop = setTimeout(() => to.destroy(), flushMs).unref();
      const done = () => (clearTimeout(stop), to.destroy());
      if (to.writableFinished) done();
      else to.once('finish', done);
    });
  };
  follow(local, remote);
  follow(remote, local);
}
