/**
 * The package as a user gets it: `npm pack`, the tarball unpacked into a scratch project in the
 * temp folder with only tfnz's own dependencies next to it (linked from this repo's node_modules,
 * so it runs offline), none of the optional ones (dockerode, tar-stream, ssh2) and no @types but
 * @types/node. Needs `npm run build` first (CI builds before it tests).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>; peerDependencies: Record<string, string>;
};
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

/** A program a user might write, using both entries, typed errors, operators and `await using`. */
const PROGRAM = `
import { Location, ImageNotFound, MissingDependency, TfnzError, lines, type Container, type Process, type SshServer, type Tunnel } from 'tfnz';
import { LocationServer, type LocationServerOptions } from 'tfnz/server';

export async function main(): Promise<number> {
  await using loc = await Location.connect({ location: 'localhost:2020', quiet: true });
  const ctr: Container = loc.node().spawnContainer('nginx');
  await ctr.ready();
  await using tunnel: Tunnel = await ctr.attachTunnel(80);
  await using proc: Process = ctr.spawnProcess(['sleep', '1']);
  await using ssh: SshServer = await ctr.createSshServer();
  proc.output$.pipe(lines()).subscribe((line: string) => console.log(line.length));
  const errors: TfnzError[] = [new ImageNotFound('x'), new MissingDependency('y')];
  // @ts-expect-error localPort is a number: an untyped (any) package would make this line pass
  const wrong: string = tunnel.localPort;
  const options: LocationServerOptions = { name: 'spec', port: 0 };
  void LocationServer.start;
  return tunnel.localPort + ssh.port + errors.length + options.port! + wrong.length;
}
`;

/** tsconfig for one module resolution; strict, and the package's declarations checked too. */
const tsconfig = (module: string, moduleResolution: string, files: string[]) => ({
  compilerOptions: {
    strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022', module, moduleResolution,
    lib: ['ES2022', 'ESNext.Disposable'], types: ['node'],
  },
  files,
});

let scratch: string;
let tarball: string;

async function node(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: scratch, env: { ...process.env, TFNZ_LOCATION: '', TFNZ_HOME: join(scratch, 'home'), ...env } });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function typecheck(config: string): Promise<string> {
  try {
    await run(process.execPath, [tsc, '-p', config], { cwd: scratch });
    return '';
  } catch (err) {
    return (err as { stdout: string }).stdout;
  }
}

describe('the packed package, installed as a user installs it', function () {
  // About 40 s of CPU, most of it the three compilations; more when the machine is shared.
  this.timeout(300_000);

  before(async function () {
    if (!existsSync(join(repo, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` before this spec');
    scratch = mkdtempSync(join(tmpdir(), 'tfnz-consumer-'));
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: repo });
    tarball = join(scratch, stdout.trim().split('\n').at(-1)!);
    const installed = join(scratch, 'node_modules/tfnz');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
      mkdirSync(dirname(join(scratch, 'node_modules', dep)), { recursive: true });
      symlinkSync(join(repo, 'node_modules', dep), join(scratch, 'node_modules', dep), 'dir');
    }
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('has no optional package within reach, so what follows runs as after a plain npm install tfnz', () => {
    for (const optional of Object.keys(pkg.peerDependencies)) {
      expect(() => createRequire(join(scratch, 'node_modules/tfnz/dist/index.cjs')).resolve(optional), optional).to.throw(/Cannot find module/);
    }
  });

  it('passes arethetypeswrong and publint on the tarball', async () => {
    const attw = await run(join(repo, 'node_modules/.bin/attw'), [tarball, '--format', 'ascii']).catch((err) => err as { stdout: string; code: number });
    expect(attw.stdout).to.contain('No problems found');
    const publint = await run(join(repo, 'node_modules/.bin/publint'), ['run', join(scratch, 'node_modules/tfnz'), '--strict', '--pack', 'false'])
      .catch((err) => err as { stdout: string; code: number });
    expect(publint.stdout).to.contain('All good');
  });

  /**
   * Three compilations: nodenext takes program.ts as ESM (index.d.ts) and program.cts as CommonJS
   * (index.d.cts) in one program, and examples/ with them; then bundler and node10.
   */
  let typechecks: Promise<Record<string, string>> | undefined;
  const typecheckAll = () => (typechecks ??= (async () => {
    writeFileSync(join(scratch, 'program.ts'), PROGRAM);
    writeFileSync(join(scratch, 'program.cts'), PROGRAM);
    cpSync(join(repo, 'examples'), join(scratch, 'examples'), { recursive: true });
    // upload-image.ts draws its own progress bar with cli-progress, so it needs that package's types.
    symlinkSync(join(repo, 'node_modules/@types/cli-progress'), join(scratch, 'node_modules/@types/cli-progress'), 'dir');
    const examples = readdirSync(join(scratch, 'examples')).filter((f) => f.endsWith('.ts')).map((f) => `examples/${f}`);
    const configs = {
      nodenext: tsconfig('NodeNext', 'NodeNext', ['program.ts', 'program.cts', ...examples]),
      bundler: tsconfig('ESNext', 'Bundler', ['program.ts']),
      node10: tsconfig('CommonJS', 'Node10', ['program.ts']),
    };
    for (const [name, config] of Object.entries(configs)) writeFileSync(join(scratch, `tsconfig.${name}.json`), JSON.stringify(config));
    return Object.fromEntries(await Promise.all(Object.keys(configs).map(async (name) => [name, await typecheck(`tsconfig.${name}.json`)] as const)));
  })());

  it('typechecks a program under nodenext (ESM and CommonJS), bundler and node10, strict, without skipLibCheck', async () => {
    const errors = await typecheckAll();
    expect(errors).to.deep.equal({ nodenext: '', bundler: '', node10: '' });
  });

  it('typechecks examples/ as a user would import tfnz', async () => {
    expect(readdirSync(join(repo, 'examples')).filter((f) => f.endsWith('.ts')).length).to.be.greaterThan(5);
    const errors = await typecheckAll();
    expect(errors.nodenext.split('\n').filter((line: string) => line.startsWith('examples/'))).to.deep.equal([]);
  });

  it('loads neither the location server nor dockerode, ssh2, tar-stream or ws\'s server on require(\'tfnz\')', async () => {
    const { stdout, code } = await node(['-e', `require('tfnz'); console.log(JSON.stringify(Object.keys(require.cache)))`]);
    expect(code).to.equal(0);
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded.some((f) => f.endsWith('/ws/lib/websocket.js')), 'the WebSocket client is loaded').to.equal(true);
    expect(loaded.filter((f) => /location-server|\/dockerode\/|\/ssh2\/|\/tar-stream\/|websocket-server/.test(f))).to.deep.equal([]);
  });

  it('imports tfnz as ESM and as CommonJS with the optional packages absent', async () => {
    const esm = await node(['--input-type=module', '-e', `const t = await import('tfnz'); console.log(typeof t.Location.connect)`]);
    expect(esm.stderr).to.equal('');
    expect(esm.stdout.trim()).to.equal('function');
    const cjs = await node(['-e', `console.log(typeof require('tfnz').Location.connect)`]);
    expect(cjs.stdout.trim()).to.equal('function');
  });

  it('says what to install when the embedded location needs dockerode, from ESM and CommonJS', async () => {
    const attempt = `.then(() => console.log('connected'), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, typed: e instanceof t.MissingDependency, message: e.message })))`;
    const esm = await node(['--input-type=module', '-e', `const t = await import('tfnz'); await t.Location.connect({ quiet: true })${attempt}`]);
    const cjs = await node(['-e', `const t = require('tfnz'); t.Location.connect({ quiet: true })${attempt}`]);
    for (const out of [esm.stdout, cjs.stdout]) {
      const err = JSON.parse(out) as { name: string; code: string; typed: boolean; message: string };
      expect(err).to.include({ name: 'MissingDependency', code: 'MISSING_DEPENDENCY', typed: true });
      expect(err.message).to.contain('embedded location').and.contain('npm install dockerode tar-stream');
    }
  });

  it('runs a container on the embedded location from dist/, as ESM and as CommonJS, when dockerode is installed', async () => {
    // From the repository, where the optional packages are installed, `tfnz` is this package's dist/.
    const program = (load: string) => `${load}.then(async ({ Location }) => {
      const loc = await Location.connect({ quiet: true });
      const box = loc.node().spawnContainer('busybox', { command: ['sleep', '60'] });
      await box.ready();
      const { stdout } = await box.runProcess(['echo', 'ran from dist']);
      await loc.disconnect();
      console.log(stdout.toString().trim());
    })`;
    const [esm, cjs] = await Promise.all([
      run(process.execPath, ['--input-type=module', '-e', program("import('tfnz')")], { cwd: repo }),
      run(process.execPath, ['--input-type=commonjs', '-e', program("Promise.resolve(require('tfnz'))")], { cwd: repo }),
    ]);
    expect([esm.stdout.trim(), cjs.stdout.trim()]).to.deep.equal(['ran from dist', 'ran from dist']);
  });

  it('runs the tfnz command without the optional packages, and tfnz location says what to install', async () => {
    const cli = join(scratch, 'node_modules/tfnz/dist/cli.js');
    const help = await node([cli, '--help']);
    expect(help.stdout).to.contain('Usage: tfnz');
    const location = await node([cli, 'location', '--listen', '127.0.0.1:0']);
    expect(location.code).to.equal(125);
    expect(location.stderr).to.contain("tfnz location needs the 'dockerode' package").and.contain('npm install dockerode tar-stream');
  });
});
