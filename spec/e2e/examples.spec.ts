import { expect } from 'chai';
import { createInterface } from 'node:readline';
import { containersLabelled } from '../support/docker';
import { exited, runScript } from '../support/processes';
import { httpGet } from '../support/net';

/** Resolve with the first line of `stream` that matches. */
function lineMatching(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: stream });
    const seen: string[] = [];
    rl.on('line', (line) => {
      seen.push(line);
      if (pattern.test(line)) resolve(line);
    });
    rl.on('close', () => reject(new Error(`stream ended before a line matched ${pattern}:\n${seen.join('\n')}`)));
  });
}

describe('examples run for real', function () {
  this.timeout(120_000);

  it('hello-nginx serves the welcome page on :8080 and Ctrl-C removes the container', async () => {
    const child = runScript('examples/hello-nginx.ts');
    try {
      await lineMatching(child.stderr!, /tunnel 127\.0\.0\.1:8080 ->/);
      const page = await httpGet(8080);
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('Welcome to nginx!');
      expect(await containersLabelled('tfnz.pid', String(child.pid))).to.have.length(1);
      child.kill('SIGINT');
      expect(await exited(child)).to.equal(0);
      expect(await containersLabelled('tfnz.pid', String(child.pid))).to.deep.equal([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('hello-nginx also ends cleanly on SIGTERM', async () => {
    const child = runScript('examples/hello-nginx.ts');
    try {
      await lineMatching(child.stderr!, /tunnel 127\.0\.0\.1:8080 ->/);
      child.kill('SIGTERM');
      expect(await exited(child)).to.equal(0);
      expect(await containersLabelled('tfnz.pid', String(child.pid))).to.deep.equal([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('pipe-logs turns nginx access log lines into one summary per request', async () => {
    const child = runScript('examples/pipe-logs.ts');
    const out: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => out.push(line));
    expect(await exited(child)).to.equal(0);
    expect(out).to.deep.equal(['GET / -> 200', 'GET /missing -> 404', 'GET / -> 200', 'GET /index.nginx-debian.html -> 200']);
  });

  it('microservice scales its api cluster while web calls it by endpoint name, and no request fails', async () => {
    const child = runScript('examples/microservice.ts');
    const out: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => out.push(line));
    expect(await exited(child)).to.equal(0);
    expect(out).to.have.length(1);
    expect(out[0]).to.match(/^\d+ requests through web, 0 failed; api answered from /);
    for (const n of [1, 2, 3]) expect(out[0]).to.match(new RegExp(`api-${n} ×\\d+`));
    expect(await containersLabelled('tfnz.pid', String(child.pid))).to.deep.equal([]);
  });
});
