/**
 * The location's way into a swarm's overlay network, which it is not on: one small relay container
 * per node, on the overlay, with one port published on the node's own address. The location dials
 * that port, sends one line `TOKEN IP PORT`, and the relay connects to IP:PORT on the overlay,
 * answers `+` (or `- why`) and then carries bytes both ways.
 *
 * The relay is busybox (`nc` and `sh`), so nothing but an image every node already has is needed.
 * Each connection costs the node two short-lived processes; the token (random per location
 * process) keeps others who can reach the published port from using it as a way into the overlay.
 * When the target closes, the relay closes the location's side. LIMIT: a half-close from the
 * location's side (a client that ends its sending and waits for the answer) is not passed on:
 * busybox cannot shut down one direction of a socket, so the target keeps reading until it closes
 * by itself; a target that waits for end-of-input never answers through the relay.
 */
import type Docker from 'dockerode';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ConnectFailed, EngineError } from '../protocol';
import { dockerCall } from './docker-streams';

/** The port the relay listens on inside its container (published on a port the engine picks). */
const RELAY_PORT = 7070;
/** How often starting the relay is tried before a dial fails. */
const START_ATTEMPTS = 5;
/** How long the relay waits for the target to accept. */
const CONNECT_SECONDS = 5;

/**
 * Run by `nc -e` for each connection: stdin/stdout are the location's socket. The target's socket
 * becomes stdin/stdout of `joined`, which keeps the location's as fds 3 and 4.
 */
const RELAY_SCRIPT = `
cat > /tmp/joined <<'X'
#!/bin/sh
echo + >&4
cat <&3 &
cat >&4
kill $! 2>/dev/null
exit 0
X
cat > /tmp/relay <<'X'
#!/bin/sh
read -r token host port || exit 1
[ "$token" = "$TFNZ_RELAY_TOKEN" ] || { echo "- wrong relay token"; exit 1; }
case "$port" in ''|*[!0-9]*) echo "- bad port"; exit 1;; esac
exec 3<&0 4>&1
nc -w ${CONNECT_SECONDS} "$host" "$port" -e /tmp/joined || echo "- nothing accepted the connection"
X
chmod +x /tmp/joined /tmp/relay
exec nc -ll -p ${RELAY_PORT} -e /tmp/relay
`;

/** Where the location reaches a node's relay. */
interface RelayAddress {
  host: string;
  port: number;
  /** The relay's own address on the overlay: where the location's connections come from. */
  overlayIp: string;
}

/** One node's relay: started (or replaced) on first use, then dialled per connection. */
export class SwarmRelay {
  private readonly token = randomBytes(18).toString('base64url');
  private address?: Promise<RelayAddress>;

  /**
   * `docker`: the node's engine; `host`: the node's address as the location reaches it;
   * `network`: the overlay; `name`: the relay container's name on that engine (one per location).
   */
  constructor(
    private readonly docker: Docker,
    private readonly host: string,
    private readonly network: string,
    private readonly name: string,
    private readonly image = 'busybox',
  ) {}

  /** Connect to `port` at `ip` on the overlay; resolves once the target accepted. */
  async dial(ip: string, port: number): Promise<Socket> {
    const relay = await this.ensure();
    try {
      return await handshake(relay, `${this.token} ${ip} ${port}\n`);
    } catch (err) {
      // The relay may have gone (removed by hand, node restarted): start it afresh next time.
      if ((err as NodeJS.ErrnoException).code) this.address = undefined;
      throw err;
    }
  }

  /** The relay's address on the overlay (starting it if need be). */
  async overlayIp(): Promise<string> {
    return (await this.ensure()).overlayIp;
  }

  /** Remove the relay container (the location is leaving this node). */
  async remove(): Promise<void> {
    this.address = undefined;
    await this.docker.getContainer(this.name).remove({ force: true }).catch(() => undefined);
  }

  private ensure(): Promise<RelayAddress> {
    this.address ??= this.startWithRetries().catch((err: Error) => {
      this.address = undefined;
      throw err;
    });
    return this.address;
  }

  /**
   * Just after a node rejoins (or its link returns) its engine may not know the overlay yet
   * ("network … not found"): a few tries, a second apart.
   */
  private async startWithRetries(): Promise<RelayAddress> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.start();
      } catch (err) {
        if (attempt >= START_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** A fresh relay with this process's token: any older one (an earlier run's) is replaced. */
  private async start(): Promise<RelayAddress> {
    await this.docker.getContainer(this.name).remove({ force: true }).catch(() => undefined);
    const container = await dockerCall(
      () =>
        this.docker.createContainer({
          name: this.name,
          Image: this.image,
          Entrypoint: ['/bin/sh', '-c', RELAY_SCRIPT],
          Env: [`TFNZ_RELAY_TOKEN=${this.token}`],
          Labels: { 'tfnz.relay': this.name },
          ExposedPorts: { [`${RELAY_PORT}/tcp`]: {} },
          HostConfig: { NetworkMode: this.network, PortBindings: { [`${RELAY_PORT}/tcp`]: [{ HostPort: '' }] }, RestartPolicy: { Name: 'unless-stopped' } },
        }),
      `creating the overlay relay on ${this.host} (it needs the '${this.image}' image on every node)`,
    );
    await dockerCall(() => container.start(), `starting the overlay relay on ${this.host}`);
    const info = await dockerCall(() => container.inspect(), `inspecting the overlay relay on ${this.host}`);
    const published = info.NetworkSettings.Ports?.[`${RELAY_PORT}/tcp`]?.find((b) => b.HostIp === '0.0.0.0' || b.HostIp === '') ?? info.NetworkSettings.Ports?.[`${RELAY_PORT}/tcp`]?.[0];
    if (!published) throw new EngineError(`the overlay relay on ${this.host} has no published port`);
    const overlayIp = info.NetworkSettings.Networks?.[this.network]?.IPAddress;
    if (!overlayIp) throw new EngineError(`the overlay relay on ${this.host} has no address on '${this.network}'`);
    return { host: this.host, port: Number(published.HostPort), overlayIp };
  }
}

/**
 * Send the request line, read the relay's answer line, hand back the socket with any bytes after
 * it. The answer is read in paused mode ('readable'), so nothing after it flows before the caller
 * listens.
 */
function handshake(relay: RelayAddress, request: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: relay.host, port: relay.port, allowHalfOpen: true });
    let answer = Buffer.alloc(0);
    const done = () => {
      socket.off('readable', onReadable);
      socket.off('error', fail);
      socket.off('end', onEnd);
    };
    const fail = (err: Error) => {
      done();
      socket.destroy();
      reject(err);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) answer = Buffer.concat([answer, chunk]);
      const eol = answer.indexOf(0x0a);
      if (eol < 0) return answer.length > 256 ? fail(new ConnectFailed('the overlay relay sent no answer line')) : undefined;
      const line = answer.subarray(0, eol).toString();
      if (line !== '+') return fail(new ConnectFailed(`the overlay relay on ${relay.host} could not connect: ${line.replace(/^- ?/, '')}`));
      done();
      const rest = answer.subarray(eol + 1);
      if (rest.length) socket.unshift(rest);
      resolve(socket);
    };
    const onEnd = () => fail(new ConnectFailed(`the overlay relay on ${relay.host} closed before connecting`));
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('error', fail);
    socket.write(request);
  });
}
