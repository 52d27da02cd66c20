/**
 * The embedded location: with no location configured, the SDK runs one in-process on the local
 * Docker Engine and connects to it over a real loopback WebSocket, the same path as a remote one.
 * Loopback is reachable by every user of the machine, so it admits only its owner's account key
 * (the `embedded` account, made on first use as `tfnz account create embedded` would).
 *
 * This is the SDK's only way into lib/server, and it is loaded on demand: `import 'tfnz'` loads
 * neither the location server nor dockerode; the first embedded `Location.connect()` does.
 */
import { importOptional } from '../shared/optional-dependency';
import { ensureAccount, type Account } from './accounts';

/** The account the embedded location admits, and the SDK signs with. */
export const EMBEDDED_ACCOUNT = 'embedded';

export function embeddedAccount(): Account {
  return ensureAccount(EMBEDDED_ACCOUNT);
}

const PID_LABEL = 'tfnz.pid';

/** What the SDK keeps of the embedded location server. */
export interface EmbeddedLocation {
  readonly url: string;
  close(): Promise<void>;
}

export async function startEmbeddedLocation(log: (line: string) => void): Promise<EmbeddedLocation> {
  const { LocationServer, processIsGone } = await importOptional(
    () => import('../server/index'),
    ['dockerode', 'tar-stream'],
    'the embedded location (Location.connect() with no location configured)',
  );
  return LocationServer.start({
    name: 'embedded',
    admitKeys: [embeddedAccount().publicKey],
    host: '127.0.0.1',
    port: 0,
    labels: { [PID_LABEL]: String(process.pid) },
    // Another program's embedded location may share the engine: only reap what a dead process left.
    shouldReap: (labels) => processIsGone(labels[PID_LABEL]),
    log,
  });
}
