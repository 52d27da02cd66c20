import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { nanoid } from 'nanoid';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Location, type Container } from '../../lib/index';
import { LocationServer } from '../../lib/server/index';
import { freshHome, inHome } from '../support/home';

/** Where CI keeps the screenshot (.ci/run says so; gitignored). */
const ARTIFACTS = join(process.cwd(), 'artifacts');
/** Debian's Chromium, installed by scripts/setup-chromium.sh (playwright-core never downloads one). */
function chromiumPath(): string {
  const found = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
  if (!found) throw new Error('no chromium: run `bash scripts/setup-chromium.sh` as root (or set CHROMIUM_PATH)');
  return found;
}

/** A GET with any Host header (fetch would not let a spec lie about it): status and body. */
function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

describe('tfnz dashboard (real location, real Docker Engine, headless Chromium)', function () {
  this.timeout(120_000);
  let server: LocationServer;
  let home: string;
  let dashboard: ChildProcess;
  let url: string;
  let loc: Location;
  let browser: Browser;
  let page: Page;

  before(async () => {
    server = await LocationServer.start({ name: `spec-dashboard-${nanoid(6)}`, port: 0 });
    home = freshHome('dashboard');
    // The dashboard and this spec's session are two sessions of one user (one account in `home`).
    dashboard = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'dashboard', '--location', server.url, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, TFNZ_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    dashboard.stderr!.setEncoding('utf8').on('data', (c: string) => (said += c));
    url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: dashboard.stdout! }).once('line', resolve);
      dashboard.once('exit', (code) => reject(new Error(`tfnz dashboard exited (${code}) before printing its URL: ${said}`)));
    });
    loc = await inHome(home, () => Location.connect({ location: server.url, quiet: true }));
    browser = await chromium.launch({ executablePath: chromiumPath() });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(60_000); // generous: CI shares two cores with the engine and the location
  });

  after(async () => {
    await browser?.close();
    await loc?.disconnect();
    if (dashboard && dashboard.exitCode === null) {
      const ended = new Promise((resolve) => dashboard.once('exit', resolve));
      dashboard.kill('SIGTERM');
      // Its goodbye to the location is bounded here, so the clean-up cannot hang the suite.
      const stuck = setTimeout(() => dashboard.kill('SIGKILL'), 10_000);
      await ended;
      clearTimeout(stuck);
    }
    await server?.close();
  });

  it('prints a loopback URL and refuses requests without its token or with a foreign Host header', async () => {
    const printed = new URL(url);
    expect(printed.hostname).to.equal('127.0.0.1');
    expect(printed.searchParams.get('token')).to.match(/^[\w-]{32}$/);
    expect((await get(url)).status).to.equal(200);

    const bare = `${printed.origin}/`;
    const noToken = await get(bare);
    expect(noToken.status).to.equal(403);
    expect(noToken.body).to.contain('open the whole URL that tfnz dashboard printed');
    expect((await get(`${printed.origin}/events`)).status, 'the event stream needs it too').to.equal(403);
    expect((await get(`${printed.origin}/logs?container=x`)).status).to.equal(403);
    expect((await get(`${bare}?token=${'A'.repeat(32)}`)).status, 'a wrong token').to.equal(403);
    const rebound = await get(url, `attacker.example:${printed.port}`);
    expect(rebound.status, 'DNS rebinding: the right token, a foreign Host').to.equal(403);
    expect(rebound.body).to.contain('loopback address');
    expect((await get(url, `localhost:${printed.port}`)).status, 'localhost is this machine too').to.equal(200);
  });

  it('will not listen beyond loopback: a clear error and exit code 1', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'dashboard', '--location', server.url, '--listen', '0.0.0.0:0'], {
      env: { ...process.env, TFNZ_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    cli.stderr!.setEncoding('utf8').on('data', (c: string) => (said += c));
    const code = await new Promise((resolve) => cli.once('exit', resolve));
    expect(code).to.equal(1);
    expect(said).to.contain('the dashboard listens on loopback only (got 0.0.0.0)');
  });

  it('shows nodes with charts, a tagged container of another session appearing, its output arriving live, and it going; screenshot', async () => {
    await page.goto(url);
    const nodeName = Object.values(loc.state.nodes)[0].name;
    await page.locator('article.node h3', { hasText: nodeName }).waitFor();
    await page.locator('#link.up').waitFor();
    expect(await page.locator('article.node svg[data-field="cpu"] polyline').count(), 'a cpu chart per node').to.be.greaterThan(0);

    const tag = `dash-${nanoid(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    const ctr: Container = loc.node().spawnContainer('busybox', {
      tag,
      command: ['sh', '-c', 'echo hello from the dashboard spec; until [ -e /tmp/go ]; do usleep 100000; done; echo >&2 a second line, live; exec sleep 3600'],
    });
    await ctr.ready();
    const item = page.locator(`li[data-container="${ctr.id}"]`);
    await item.locator('.status', { hasText: 'running' }).waitFor();
    expect(await item.locator('.name').textContent()).to.equal(tag);

    await item.click();
    await page.locator('#logs .stdout', { hasText: 'hello from the dashboard spec' }).waitFor();
    expect(await ctr.runProcess('touch /tmp/go').then((r) => r.exitCode)).to.equal(0);
    await page.locator('#logs .stderr', { hasText: 'a second line, live' }).waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    await ctr.node.destroyContainer(ctr);
    await item.locator('.status', { hasText: 'gone' }).waitFor();
    await page.locator('#logs .note', { hasText: 'its output ended' }).waitFor();
  });
});
