/** The `tfnz` command as a Docker user types it, against a real location. */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { nanoid } from 'nanoid';
import { LocationServer } from '../../lib/server/index';

/** Run `tfnz ARGS…` to its end; its exit code and what it printed. */
function tfnz(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tfnz on the command line (real location, real Docker Engine)', function () {
  this.timeout(60_000);
  let server: LocationServer;

  before(async () => {
    server = await LocationServer.start({ name: `spec-${nanoid(8)}`, port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  it('run passes everything after the image to the command, options included, as docker run does', async () => {
    const { code, stdout, stderr } = await tfnz(['run', '-q', '--location', server.url, 'busybox', 'echo', '-l', '-p', '9000', '--location', 'x']);
    expect(stderr).to.equal('');
    expect(stdout).to.equal('-l -p 9000 --location x\n');
    expect(code).to.equal(0);
  });

  it("run ends with the command's exit code", async () => {
    const { code } = await tfnz(['run', '-q', '--location', server.url, 'busybox', 'sh', '-c', 'exit 3']);
    expect(code).to.equal(3);
  });
});
