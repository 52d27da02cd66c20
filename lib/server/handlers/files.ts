/** Files read from and written into a container, and the flow of their transfers. */
import { FileReader, FileWriter } from '../file-transfer';
import type { Session } from '../session';
import type { CommandHandlers, MessageHandlers } from './handler';
import { reachable } from './ownership';

function ownTransfer<T>(s: Session, id: string, kind: new (...args: never[]) => T): T | undefined {
  for (const c of [...s.containers.values(), ...s.visiting]) {
    const t = c.transfers.get(id);
    if (t instanceof kind) return t;
  }
  return undefined; // finished or cancelled already: late data and acks are dropped
}

export const fileCommands = {
  async fetch_file(s, p) {
    const { transfer } = p;
    const c = reachable(s, p.container); // #20: or one of the user's other sessions (tfnz cp)
    const source = await c.node.engine.readFile(c.existingEngineId(), p.path);
    const reader = new FileReader(
      transfer, source,
      { data: (chunk) => s.emit('file_data', { transfer }, chunk), end: (error) => s.emit('file_end', { transfer, error }) },
      () => c.transfers.delete(transfer),
    );
    c.addTransfer(reader);
    void reader.run(); // sends nothing until the client's first file_ack, which follows this reply
    return { size: source.size };
  },

  async put_file(s, p) {
    const { transfer, size } = p;
    const c = reachable(s, p.container); // #20: or one of the user's other sessions (tfnz cp)
    s.ctx.quotas.transferSize(size);
    const sink = await c.node.engine.writeFile(c.existingEngineId(), p.path, size);
    const writer = new FileWriter(
      transfer, sink, size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => c.transfers.delete(transfer),
    );
    c.addTransfer(writer);
    // An empty file has no data to wait for; finish it after this reply has gone out.
    if (size === 0) setImmediate(() => writer.complete());
    return {};
  },
} satisfies Partial<CommandHandlers>;

/** file_data also carries image layer uploads (images.ts), which belong to the session, not a container. */
export const fileMessages = {
  file_data: (s, p, bulk) => (s.uploads.get(p.transfer) ?? ownTransfer(s, p.transfer, FileWriter))?.data(bulk),
  file_ack: (s, p) => ownTransfer(s, p.transfer, FileReader)?.grant(p.bytes),
  file_cancel: (s, p) => (s.uploads.get(p.transfer) ?? ownTransfer(s, p.transfer, FileReader) ?? ownTransfer(s, p.transfer, FileWriter))?.cancel(),
} satisfies Partial<MessageHandlers>;
