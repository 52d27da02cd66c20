/**
 * Names between containers (issue #15): a small DNS server the location runs on its own address
 * as each node's host sees it (UDP port 53), which containers on those hosts get as their only
 * name server (`Dns`). It answers A queries for:
 *  - the front door's domains and every name under them (endpoints published on the location):
 *    the address the question arrived on, i.e. the location itself;
 *  - a container's tag or id, asked by a container of the same user: that container's private IP.
 *    Whether the asker may then connect is the packet filter's business (connection grants).
 * A name that is not the location's to answer (`forward.isOurs`: not a single label, not under a
 * front-door domain), asked by one of the location's containers, goes to the upstream resolver
 * (the location's host's own), and its answer back to the asker; otherwise, NXDOMAIN.
 * Known names asked for other types (AAAA) get an empty answer, so resolvers fall back to A.
 *
 * The wire format is the small part of RFC 1035 that this needs (one question; answers by pointer
 * to it), written here because no DNS library could be installed when this was built; dns-packet
 * would replace `parseQuestion` and `answer` one for one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';

/** The IPv4 address of `name` for a container at `askerIp` asking on `localIp`; undefined: no such name. */
export type NameLookup = (name: string, askerIp: string, localIp: string) => string | undefined;

/** Where names that are not the location's go (the resolver its host uses). */
export interface DnsForwarding {
  /** The upstream resolver's IPv4 address and port. */
  address: string;
  port: number;
  /** Whether `name` is the location's to answer (then unknown is NXDOMAIN, never forwarded). */
  isOurs(name: string): boolean;
  /** Whether the asker at `ip` may have names forwarded: the location's containers only, so it is no open resolver. */
  mayAsk(ip: string): boolean;
}

/** Questions waiting for the upstream at once, at most; more are dropped (their askers retry). */
const MAX_FORWARDED = 1024;
/** How long an upstream answer may take before the question is forgotten (resolvers retry sooner). */
const FORWARD_TIMEOUT_MS = 5000;

/** Seconds a resolver may keep an answer: short, since containers come and go. */
const TTL_S = 5;
const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

export interface DnsQuestion {
  id: number;
  flags: number;
  /** Lower case, without the trailing dot. */
  name: string;
  type: number;
  cls: number;
  /** The question section as sent (echoed in the reply). */
  raw: Buffer;
}

/** The first question of a DNS query; undefined when the packet is not a well-formed query. */
export function parseQuestion(packet: Buffer): DnsQuestion | undefined {
  if (packet.length < 12 || packet[2] & 0x80 || packet.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const len = packet[at];
    if (len === 0) break;
    if (len > 63 || at + 1 + len > packet.length) return undefined; // no compression in a question
    labels.push(packet.subarray(at + 1, at + 1 + len).toString('latin1'));
    at += 1 + len;
  }
  if (at + 5 > packet.length) return undefined;
  return {
    id: packet.readUInt16BE(0), flags: packet.readUInt16BE(2),
    name: labels.join('.').toLowerCase(), type: packet.readUInt16BE(at + 1), cls: packet.readUInt16BE(at + 3),
    raw: packet.subarray(12, at + 5),
  };
}

/** The reply to `q`: an A record for `ip`, an empty answer when `ip` is undefined and `known`, else NXDOMAIN. */
export function answer(q: DnsQuestion, ip: string | undefined, known: boolean): Buffer {
  const rcode = known ? 0 : RCODE_NXDOMAIN;
  const withRecord = known && ip !== undefined && q.type === TYPE_A && q.cls === CLASS_IN;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, the query's opcode and RD, AA (we are the authority for these names), RA off, rcode.
  header.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0400 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(withRecord ? 1 : 0, 6);
  if (!withRecord) return Buffer.concat([header, q.raw]);
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  record.writeUInt16BE(TYPE_A, 2);
  record.writeUInt16BE(CLASS_IN, 4);
  record.writeUInt32BE(TTL_S, 6);
  record.writeUInt16BE(4, 10);
  ip.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
  return Buffer.concat([header, q.raw, record]);
}

/** The first IPv4 name server this machine's resolver uses (/etc/resolv.conf); undefined: none. */
export function hostResolver(file = '/etc/resolv.conf'): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return text.match(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/m)?.[1];
}

/** The location's name server, listening on one address per distinct way the hosts see it. */
export class NameServer {
  private readonly sockets = new Map<string, Promise<Socket | undefined>>();

  /** Forwarded questions by the id they carry upstream: who asked, on which socket, with which id. */
  private readonly pending = new Map<number, { id: number; reply: (packet: Buffer) => void; timer: NodeJS.Timeout }>();
  private upstream?: Socket;

  /**
   * `lookup` says what a name is; `log` hears about addresses it could not listen on; `forward`:
   * where other names go (none: NXDOMAIN).
   */
  constructor(private readonly lookup: NameLookup, private readonly log: (line: string) => void, private readonly port = 53, private readonly forward?: DnsForwarding) {}

  /**
   * Listen on `address` (once); resolves with whether it does. A port already taken (another
   * location on this machine) is logged, and containers there simply get no names from us.
   */
  async listen(address: string): Promise<boolean> {
    let socket = this.sockets.get(address);
    if (!socket) {
      socket = this.bind(address);
      this.sockets.set(address, socket);
    }
    return (await socket) !== undefined;
  }

  async close(): Promise<void> {
    const sockets = await Promise.all(this.sockets.values());
    this.sockets.clear();
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.upstream?.close();
    this.upstream = undefined;
    await Promise.all(sockets.map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** Send `query` to the upstream under an id of ours; `reply` gets its answer with the asker's id. */
  private relay(query: Buffer, reply: (packet: Buffer) => void): void {
    const forward = this.forward;
    if (!forward || this.pending.size >= MAX_FORWARDED) return;
    this.upstream ??= this.openUpstream();
    let id: number;
    do id = Math.floor(Math.random() * 0x10000); while (this.pending.has(id));
    const timer = setTimeout(() => this.pending.delete(id), FORWARD_TIMEOUT_MS);
    this.pending.set(id, { id: query.readUInt16BE(0), reply, timer });
    const ours = Buffer.from(query);
    ours.writeUInt16BE(id, 0);
    this.upstream.send(ours, forward.port, forward.address);
  }

  private openUpstream(): Socket {
    const socket = createSocket('udp4');
    socket.on('error', () => undefined); // an unreachable upstream: the askers time out and retry
    socket.on('message', (packet, from) => {
      if (packet.length < 12 || from.address !== this.forward?.address || from.port !== this.forward.port) return;
      const asked = this.pending.get(packet.readUInt16BE(0));
      if (!asked) return;
      this.pending.delete(packet.readUInt16BE(0));
      clearTimeout(asked.timer);
      const back = Buffer.from(packet);
      back.writeUInt16BE(asked.id, 0);
      asked.reply(back);
    });
    return socket;
  }

  private bind(address: string): Promise<Socket | undefined> {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (packet, from) => {
      const q = parseQuestion(packet);
      if (!q) {
        // Not a query we can read: FORMERR with the header only, when there is an id to echo.
        if (packet.length >= 2 && !(packet.length > 2 && packet[2] & 0x80)) {
          const reply = Buffer.alloc(12);
          reply.writeUInt16BE(packet.readUInt16BE(0), 0);
          reply.writeUInt16BE(0x8000 | RCODE_FORMERR, 2);
          socket.send(reply, from.port, from.address);
        }
        return;
      }
      const ip = this.lookup(q.name, from.address, address);
      if (ip === undefined && this.forward && !this.forward.isOurs(q.name) && this.forward.mayAsk(from.address)) {
        this.relay(packet, (reply) => socket.send(reply, from.port, from.address));
        return;
      }
      socket.send(answer(q, ip, ip !== undefined), from.port, from.address);
    });
    return new Promise((resolve) => {
      socket.once('error', (err) => {
        this.log(`name server: cannot listen on ${address}:${this.port} (${err.message}); containers there get no names from this location`);
        socket.close();
        resolve(undefined);
      });
      socket.bind(this.port, address, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined); // a send to a vanished asker: nothing to do
        resolve(socket);
      });
    });
  }
}
