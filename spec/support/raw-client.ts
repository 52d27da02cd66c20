/** A raw WebSocket client speaking the envelope by hand, to send what the SDK never would. */
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, type EventFrame, type ReplyFrame } from '../../lib/protocol';

export type Incoming = ReplyFrame | EventFrame;

export async function rawClient(url: string) {
  const ws = new WebSocket(url);
  const frames: Incoming[] = [];
  const waiters: (() => void)[] = [];
  // Listen before the socket opens: the location's challenge may come in the same read as the upgrade.
  ws.on('message', (data: Buffer) => {
    frames.push(decodeFrame(data) as Incoming);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const next = async (match: (f: Incoming) => boolean): Promise<Incoming> => {
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  let id = 100;
  /** Send a request and wait for its reply. */
  const request = async (command: string, params: unknown): Promise<ReplyFrame> => {
    const mine = ++id;
    ws.send(encodeFrame({ kind: 'request', id: mine, command, params }));
    return (await next((f) => f.kind === 'reply' && f.id === mine)) as ReplyFrame;
  };
  return { ws, next, request, send: (bytes: Uint8Array) => ws.send(bytes) };
}
