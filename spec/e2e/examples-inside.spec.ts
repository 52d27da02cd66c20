import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exited, runScript } from '../support/processes';

describe('examples that work inside containers', function () {
  this.timeout(120_000);

  it('nginx-reconfigure changes what a running nginx serves, through files and processes, without a restart', async () => {
    const child = runScript('examples/nginx-reconfigure.ts');
    const out: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => out.push(line));
    const err: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => err.push(line));
    expect(await exited(child), err.join('\n')).to.equal(0);
    expect(out).to.deep.equal(['before: 200 - Welcome to nginx!', 'after: 200 tfnz Reconfigured by tfnz']);
  });

  it('shell takes keys from process.stdin and ends with the shell\'s exit code', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/shell.ts'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stdin.write('echo sum=$((40+2))\n');
    child.stdin.end('exit 3\n');
    expect(await exited(child)).to.equal(3);
    expect(out).to.contain('sum=42');
  });
});
