/**
 * `npm run fuzz -- [FRAMES] [SECONDS] [SEED]`: a longer fuzz run than the spec's, against a fresh
 * location in its own process (default 50 000 frames or 300 s). Prints what it found; exits 1 if
 * the location died, stalled, or answered with an untyped error.
 */
import { nanoid } from 'nanoid';
import { exited, startLocationProcess } from '../spec/support/processes';
import { fuzz } from '../spec/support/fuzz';
import { Location } from '../lib/index';

const [frames = 50_000, seconds = 300, seed = Date.now() % 1_000_000] = process.argv.slice(2).map(Number);
const location = await startLocationProcess(`fuzz-${nanoid(6)}`, ['--containers-per-user', '4', '--open-deadline-ms', '3000']);
let failed = false;
try {
  const loc = await Location.connect({ location: location.url, quiet: true });
  const started = Date.now();
  const report = await fuzz(location.url, { frames, timeMs: seconds * 1000, seed, node: loc.node().id });
  process.stdout.write(`${report.frames} frames in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed}) on ${report.sockets} sockets, ${report.opened} with a session\n`);
  process.stdout.write(`closes: ${JSON.stringify(report.closes)}\nerror codes: ${JSON.stringify(report.codes)}\n`);
  process.stdout.write(`stalls: ${report.stalls}\nuntyped errors: ${report.untyped.length ? `\n  ${report.untyped.join('\n  ')}` : 'none'}\n`);
  // Still serving: a container runs a command.
  const ctr = loc.node().spawnContainer('busybox', { command: ['sleep', '60'] });
  const alive = (await ctr.runProcess('echo alive')).stdout.toString().trim() === 'alive';
  process.stdout.write(`location ${location.child.exitCode === null && alive ? 'alive and serving' : 'NOT serving'}\n`);
  failed = !alive || location.child.exitCode !== null || report.stalls > 0 || report.untyped.length > 0 || (report.closes['1011'] ?? 0) > 0;
  await loc.disconnect();
} finally {
  const stopping = Date.now();
  location.child.kill('SIGTERM');
  await exited(location.child);
  process.stdout.write(`location stopped (every session ended, its containers removed) in ${((Date.now() - stopping) / 1000).toFixed(1)} s\n`);
}
process.exit(failed ? 1 : 0);
