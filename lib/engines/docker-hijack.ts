/**
 * A hijacked Docker Engine API call (container attach, exec start) on a connection of its own,
 * read with net's documented `onread` option (#17).
 *
 * Through dockerode every read of an attach stream went through Node's stream machinery, and a
 * paused stream still read each of a chatty producer's lines from the socket into its buffer: a
 * web container logging a line per request cost the location 40-60 µs per line. With `onread`
 * a read lands in one reused buffer and a callback, and pause() stops reading at the socket, so
 * output-reader.ts can let lines gather in the kernel and take them in one read.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type Docker from 'dockerode';
import { EngineError, type OutputStream } from '../protocol';
import { OutputReader } from './output-reader';

/** One read's room: bulk output comes in reads this large. */
const READ_BUFFER_BYTES = 64 * 1024;
/** An answer head longer than this is not an engine's. */
const MAX_HEAD_BYTES = 16 * 1024;
/** How long the engine may take to answer the call. */
const ANSWER_TIMEOUT_MS = 60_000;

export interface HijackCall {
  method: 'POST';
  /** Path and query, e.g. `/containers/ID/attach?stream=1&stdout=1`. */
  path: string;
  /** A JSON body (exec start). */
  body?: unknown;
}

/**
 * Make the call and resolve with the raw connection once the engine switched it over; every byte
 * after the answer's head goes to `onData` (a copy: the read buffer is reused). An answer that is
 * not a switch rejects with the engine's message.
 */
export function hijack(options: Docker.DockerOptions, call: HijackCall, onData: (data: Buffer) => void): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let failed: { status: string; body: Buffer; length: number } | undefined;
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (bytes: number, buf: Uint8Array): boolean => {
        const read = Buffer.from(buf.buffer, buf.byteOffset, bytes);
        if (failed) {
          failed.body = Buffer.concat([failed.body, read]);
          if (failed.body.length >= failed.length) socket.destroy();
          return true;
        }
        if (head === undefined) {
          onData(Buffer.from(read));
          return true;
        }
        head = Buffer.concat([head, read]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD_BYTES) socket.destroy(new Error('the engine answered with an overlong head'));
          return true;
        }
        const headText = head.subarray(0, end).toString('latin1');
        const status = headText.split('\r\n', 1)[0];
        const rest = head.subarray(end + 4);
        head = undefined;
        if (!/^HTTP\/1\.[01] (101|200) /.test(status)) {
          // The engine's refusal: its message is the body, as long as the head says (else what came).
          const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1] ?? 0);
          failed = { status, body: Buffer.from(rest), length };
          if (failed.body.length >= length) socket.destroy();
          return true;
        }
        clearTimeout(timer);
        resolve(socket);
        if (rest.length > 0) onData(Buffer.from(rest));
        return true;
      },
    };
    const socket: Socket = options.socketPath
      ? netConnect({ path: options.socketPath, onread })
      : options.protocol === 'https'
        ? tlsConnect({ host: options.host, port: Number(options.port), ca: options.ca, cert: options.cert, key: options.key, onread } as ConnectionOptions)
        : netConnect({ host: options.host, port: Number(options.port), onread });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer in ${ANSWER_TIMEOUT_MS / 1000} s`)), ANSWER_TIMEOUT_MS);
    const fail = (err?: Error) => {
      clearTimeout(timer);
      if (head === undefined && !failed) return; // switched over: the caller watches the socket from here
      const message = failed ? `${failed.status.replace(/^HTTP\/1\.[01] /, '')}: ${engineMessage(failed.body)}` : (err?.message ?? 'the connection closed before an answer');
      reject(new EngineError(`Docker Engine refused ${call.path.split('?')[0]}: ${message}`));
    };
    socket.once('error', fail);
    socket.once('close', () => fail());
    const body = call.body === undefined ? '' : JSON.stringify(call.body);
    socket.write(
      `${call.method} ${call.path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        (body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : 'Content-Length: 0\r\n') +
        `\r\n${body}`,
    );
  });
}

/** The engine's {"message": ...} body, or its text. */
function engineMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text || 'no message';
  }
}

/**
 * A hijacked call whose output is read by an OutputReader (demultiplexed unless `tty`), resting
 * the connection after small reads; the socket is for stdin and for watching the end.
 */
export async function hijackOutput(
  options: Docker.DockerOptions,
  call: HijackCall,
  tty: boolean,
  onOutput: (stream: OutputStream, data: Buffer) => void,
): Promise<{ socket: Socket; reader: OutputReader }> {
  let connection: Socket | undefined;
  // Bytes in the read that carried the answer's head come before the socket is handed back: they
  // are delivered, and only their rest is skipped.
  const reader = new OutputReader({ pause: () => connection?.pause(), resume: () => connection?.resume() }, tty, onOutput);
  connection = await hijack(options, call, (data) => reader.take(data));
  const socket = connection;
  const stop = () => reader.stop();
  socket.once('end', stop);
  socket.once('close', stop);
  return { socket, reader };
}
