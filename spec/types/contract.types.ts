/**
 * Type-level spec, checked by `npm run typecheck` (never run): the SDK's calls and the location's
 * handlers both take their types from the catalogue, so a field named differently on either side
 * fails the build. Each `@ts-expect-error` below is itself an assertion: should the line compile
 * (the contract no longer catching the mismatch), the typecheck fails with "unused directive".
 */
import type { Connection } from '../../lib/client/connection';
import type { CommandHandler, CommandHandlers, MessageHandler } from '../../lib/server/handlers';

declare const connection: Connection;

export async function clientSide(): Promise<void> {
  await connection.request('create_tunnel', { tunnel: 'tunnel-id', container: 'container-id', port: 80, timeout: 30 });
  // @ts-expect-error the catalogue calls it 'port': a client writing 'prot' does not compile
  await connection.request('create_tunnel', { tunnel: 'tunnel-id', container: 'container-id', prot: 80, timeout: 30 });
  // @ts-expect-error a required field left out
  await connection.request('create_tunnel', { tunnel: 'tunnel-id', container: 'container-id', timeout: 30 });
  // @ts-expect-error a field of the wrong type
  await connection.request('create_tunnel', { tunnel: 'tunnel-id', container: 'container-id', port: '80', timeout: 30 });
  // @ts-expect-error a command the catalogue does not have
  await connection.request('create_tunel', { tunnel: 'tunnel-id' });

  const { size } = await connection.request('fetch_file', { container: 'container-id', path: '/etc/motd', transfer: 'transfer-id' });
  const bytes: number = size;
  // @ts-expect-error the reply has 'size', not 'length'
  void (await connection.request('fetch_file', { container: 'container-id', path: '/etc/motd', transfer: 'transfer-id' })).length;

  connection.send('tunnel_ack', { conn: 1, bytes });
  // @ts-expect-error one-way messages too: 'bytes', not 'byte'
  connection.send('tunnel_ack', { conn: 1, byte: bytes });
}

/** A handler as the location's handler files declare them. */
export const serverSide = {
  async create_tunnel(_s, p) {
    const port: number = p.port;
    // @ts-expect-error the handler reading a field the catalogue does not declare
    void p.prot;
    void port;
    return {};
  },
  // @ts-expect-error the reply must be what the catalogue says ({ size })
  async fetch_file() {
    return { bytes: 1 };
  },
} satisfies Partial<CommandHandlers>;

/** (Its own object: TypeScript reports one failure per object literal.) */
export const misnamedHandler = {
  // @ts-expect-error a handler for a command the catalogue does not have
  async create_tunel() {
    return {};
  },
} satisfies Partial<CommandHandlers>;

export const validatedTypes: CommandHandler<'spawn_container'> = async (_s, p) => {
  // What the schema guarantees shows in the handler's types: preBootFiles' text arrives as bytes.
  const files: [string, Uint8Array][] | undefined = p.preBootFiles;
  void files;
  return {};
};

export const messageSide: MessageHandler<'process_resize'> = (_s, p) => {
  const size: { cols: number; rows: number } = p;
  // @ts-expect-error 'columns' is not a field of process_resize
  void p.columns;
  void size;
};
