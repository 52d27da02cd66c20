// An interactive shell in a fresh container, in this terminal: keys go to the container's pty,
// its output comes back. `exit` (or Ctrl-D) ends it and the container is collected.
// Run with `npx tsx examples/shell.ts [image]` (default busybox).
import { Location } from 'tfnz';

const loc = await Location.connect({ quiet: true });
const ctr = loc.node().spawnContainer(process.argv[2] ?? 'busybox', { command: ['sleep', 'infinity'] });
// The local terminal goes raw (no local echo, keys sent as typed), so the remote pty echoes.
const shell = ctr.spawnShell({ echo: true });

shell.output$.subscribe((data) => process.stdout.write(data));
const resize = () => shell.resize(process.stdout.columns ?? 80, process.stdout.rows ?? 24);
if (process.stdin.isTTY) process.stdin.setRawMode(true);
process.stdin.on('data', (keys: Buffer) => shell.stdin(keys));
process.stdout.on('resize', resize);
await shell.started;
resize();

const code = await shell.wait().catch(() => 1);
if (process.stdin.isTTY) process.stdin.setRawMode(false);
process.stdin.pause();
await loc.disconnect();
process.exitCode = code;
