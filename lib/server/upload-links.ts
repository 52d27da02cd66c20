/**
 * Layer uploads on data connections of their own (#17): upload_layer with `link` offers a
 * single-use secret, and data-connections.ts hands the data connection that presents it to the
 * upload's FileWriter, which takes the layer's bytes raw from it: no msgpack framing, no WebSocket
 * masking, no file_data frame per MiB nor their copies, TCP's own flow control instead of the
 * credit window. Each data connection holds one of the address's sockets (admission.ts) until it
 * closes; an offer not taken within SECRET_TTL_MS gives its slot back.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FileWriter } from './file-transfer';

/** How long an offered secret waits for its data connection. */
const SECRET_TTL_MS = 30_000;

interface Offer {
  secret: Buffer;
  writer: FileWriter;
  release: () => void;
  timer: NodeJS.Timeout;
}

export class UploadLinks {
  private lastConn = 0;
  private readonly offers = new Map<number, Offer>();

  /** `reserve`: a socket slot of the session's address, undefined when it has none left (or no data connections here). */
  constructor(private readonly reserve: (() => (() => void) | undefined) | undefined) {}

  /** A secret for `writer`'s data connection; undefined when the location takes none now (the bytes then come as file_data). */
  offer(writer: FileWriter): { conn: number; secret: Uint8Array } | undefined {
    const release = this.reserve?.();
    if (!release) return undefined;
    const conn = ++this.lastConn;
    const secret = randomBytes(32);
    const timer = setTimeout(() => this.drop(conn), SECRET_TTL_MS).unref();
    this.offers.set(conn, { secret, writer, release, timer });
    return { conn, secret };
  }

  /** The upload whose secret `secret` is (then used up), as data-connections.ts attaches it. */
  take(conn: number, secret: Buffer): { received: number; attach(link: Socket, peerReceived: number): boolean } | undefined {
    const offer = this.offers.get(conn);
    if (!offer || secret.length !== offer.secret.length || !timingSafeEqual(secret, offer.secret)) return undefined;
    this.offers.delete(conn);
    clearTimeout(offer.timer);
    return {
      received: offer.writer.receivedBytes,
      attach: (link, peerReceived) => {
        link.once('close', offer.release);
        if (peerReceived !== 0) {
          link.destroy();
          return false;
        }
        return offer.writer.attachLink(link);
      },
    };
  }

  /** The session ended: offers not taken give their slots back. */
  close(): void {
    for (const conn of [...this.offers.keys()]) this.drop(conn);
  }

  private drop(conn: number): void {
    const offer = this.offers.get(conn);
    if (!offer) return;
    this.offers.delete(conn);
    clearTimeout(offer.timer);
    offer.release();
  }
}
