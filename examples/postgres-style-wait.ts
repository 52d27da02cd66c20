// A service that is only ready on its second log line, like PostgreSQL: its first start runs an
// init step, says "ready to accept connections", shuts down, starts again, and says it a second
// time. Waiting for the first line would connect to a server about to stop. Here busybox plays
// the database: `Wait.forLogMessage(..., 2)` makes ready() resolve only after the second line,
// and then the port answers. The first lines were written before anyone asked, yet count: the
// location keeps each container's output. Run with `npx tsx examples/postgres-style-wait.ts`.
import { Location, Wait } from 'tfnz';

const DB = [
  'echo "init: creating database"',
  'nc -ll -p 5432 -e echo init-only & init=$!; echo "LOG:  database system is ready to accept connections"',
  // kill only sends the signal: wait until the first server is gone, or the port may still be taken.
  'sleep 1; kill $init; wait $init; echo "LOG:  database system is shut down"',
  'nc -ll -p 5432 -e echo hello-from-db & echo "LOG:  database system is ready to accept connections"',
  'wait',
].join('; ');

const loc = await Location.connect({ quiet: true });
try {
  const started = Date.now();
  const db = loc.node().spawnContainer('busybox', {
    command: ['sh', '-c', DB],
    waitFor: Wait.forAll([Wait.forLogMessage(/ready to accept connections/, 2), Wait.forListeningPorts(5432)]),
    startupTimeoutMs: 30_000,
    resources: { memoryMb: 64 },
  });
  await db.ready();
  console.log(`ready after ${((Date.now() - started) / 1000).toFixed(1)}s; the log so far:`);
  for (const line of await db.logs()) console.log(`  ${line.time.toISOString()} ${line.text}`);
  const { stdout } = await db.runProcess('nc 127.0.0.1 5432 </dev/null');
  console.log(`the server says: ${stdout.toString().trim()}`);
} finally {
  await loc.disconnect();
}
