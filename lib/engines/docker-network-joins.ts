/**
 * A container's private address while the engine is still starting it.
 *
 * Docker puts a container on its network (and says so on its event stream: `network connect`)
 * early in a start, before it creates the container's process; the start call answers hundreds of
 * ms later (measured here: the event 25-160 ms into starts of 460-780 ms, the network's inspect
 * already listing the address). Learning the address then lets the location close the container
 * to other containers while the engine starts it, instead of after (HostFirewall.deny), and skip
 * the inspect that would otherwise ask for the address once it runs.
 *
 * Only a hint: an event missed (the stream not up yet, the engine slow to send it) or an address
 * not found leaves `address` undefined, and the caller asks the container itself as before.
 */
import type Docker from 'dockerode';

interface Waiter {
  resolve(address: string | undefined): void;
  /** The event came: the address is being read from the network. */
  joined: boolean;
}

interface ConnectEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Watches one engine's `network connect` events for the containers a caller expects to start. */
export class DockerNetworkJoins {
  private stream?: Promise<(NodeJS.ReadableStream & { destroy?(): void }) | undefined>;
  private readonly waiters = new Map<string, Waiter>();
  private partial = '';

  /** `network`: the network containers join (name or id; the engine's default bridge when omitted). */
  constructor(private readonly docker: Docker, private readonly network = 'bridge') {}

  /** Open the event stream if it is not open (call ahead of the first start: a stream opened late misses the event). */
  listen(): void {
    if (this.stream) return;
    const opened: DockerNetworkJoins['stream'] = this.docker
      .getEvents({ filters: { type: ['network'], event: ['connect'] } })
      .then((s) => {
        const stream = s as NodeJS.ReadableStream & { destroy?(): void; socket?: { unref?(): void } };
        // Like the engine's other watches, listening alone does not keep the process alive.
        stream.socket?.unref?.();
        stream.on('data', (chunk: Buffer) => this.receive(chunk.toString('utf8')));
        stream.on('error', () => this.closed(opened));
        stream.on('end', () => this.closed(opened));
        stream.on('close', () => this.closed(opened));
        return stream;
      })
      .catch(() => {
        this.closed(opened);
        return undefined;
      });
    this.stream = opened;
  }

  /**
   * Expect container `engineId` to join the network (call before starting it). `address` resolves
   * with its IPv4 address once the engine reports the join, or undefined after `giveUp()` when the
   * event had not come by then (or the address could not be read).
   */
  expect(engineId: string): { address: Promise<string | undefined>; giveUp(): void } {
    this.listen();
    let waiter!: Waiter;
    const address = new Promise<string | undefined>((resolve) => {
      waiter = { resolve, joined: false };
    });
    this.waiters.get(engineId)?.resolve(undefined);
    this.waiters.set(engineId, waiter);
    return {
      address,
      giveUp: () => {
        if (waiter.joined || this.waiters.get(engineId) !== waiter) return;
        this.waiters.delete(engineId);
        waiter.resolve(undefined);
      },
    };
  }

  /** Stop listening (the engine is closing); expected addresses resolve undefined. */
  close(): void {
    const stream = this.stream;
    void stream?.then((s) => s?.destroy?.());
    this.closed(stream);
  }

  private receive(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let event: ConnectEvent;
      try {
        event = JSON.parse(line) as ConnectEvent;
      } catch {
        continue;
      }
      const container = event.Actor?.Attributes?.container;
      const network = event.Actor?.ID;
      const name = event.Actor?.Attributes?.name;
      if (event.Type !== 'network' || event.Action !== 'connect' || !container || !network) continue;
      if (this.network !== network && this.network !== name) continue; // another network it also joins
      const waiter = this.waiters.get(container);
      if (!waiter || waiter.joined) continue;
      waiter.joined = true;
      void this.addressOn(network, container).then((address) => {
        if (this.waiters.get(container) === waiter) this.waiters.delete(container);
        waiter.resolve(address);
      });
    }
  }

  /** The container's IPv4 address as the network lists it (without its prefix length). */
  private async addressOn(network: string, container: string): Promise<string | undefined> {
    try {
      const info = (await this.docker.getNetwork(network).inspect()) as { Containers?: Record<string, { IPv4Address?: string }> };
      return info.Containers?.[container]?.IPv4Address?.split('/')[0] || undefined;
    } catch {
      return undefined;
    }
  }

  /** The stream `which` ended or failed: open one again next time; nobody waits for an event that will not come. */
  private closed(which: DockerNetworkJoins['stream']): void {
    if (this.stream !== which) return; // an earlier stream, already replaced
    this.stream = undefined;
    this.partial = '';
    for (const [id, waiter] of [...this.waiters]) {
      if (waiter.joined) continue;
      this.waiters.delete(id);
      waiter.resolve(undefined);
    }
  }
}
