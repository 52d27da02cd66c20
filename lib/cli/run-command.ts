/**
 * `tfnz run IMAGE [COMMAND...]`: the original `tfnz image` — spawn one container, map ports, show
 * its output, and end when it ends (or on Ctrl-C), collecting everything.
 */
import { readFileSync } from 'node:fs';
import { Location } from '../client/location';
import { Cluster } from '../client/cluster';
import type { SpawnOptions } from '../client/node';
import { progressBar, pullProgressBar } from './progress-bar';
import { Wait, type WaitStrategy } from '../client/wait';

export interface RunCommandOptions {
  port: string[];
  env: string[];
  location?: string;
  sleep?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  web: string[];
  ssl?: string;
  /** --ssh PORT */
  ssh?: string;
  /** -s: --ssh 2222 */
  s?: boolean;
  // #16: as Docker's CLI spells them.
  memory?: string;
  cpus?: string;
  user?: string;
  workdir?: string;
  entrypoint?: string;
  label: string[];
  waitLog?: string;
  healthCmd?: string;
  tag?: string;
  // #19
  pull?: string;
}

export async function runCommand(image: string, command: string[], opts: RunCommandOptions): Promise<void> {
  const ports = opts.port.map(parsePortMap);
  const env = opts.env.map(parseEnv);
  const sites = opts.web.map(parseWeb);
  const ssl = opts.ssl === undefined ? undefined : readCertificate(opts.ssl);
  const sshPort = opts.ssh !== undefined ? parsePort(opts.ssh, '--ssh') : opts.s ? 2222 : undefined;
  if (opts.pull !== undefined && !['always', 'missing', 'never'].includes(opts.pull)) throw new Error(`--pull wants missing, always or never (got '${opts.pull}')`);
  const loc = await Location.connect({ location: opts.location, quiet: opts.quiet, debug: opts.verbose, handleSignals: true });
  const spawn: SpawnOptions = {
    env, sleep: opts.sleep, command: command.length ? command : undefined, stdin: !process.stdin.isTTY, ...containerFlags(opts),
  };
  // A spawn uploads the image when the location needs it: show that as it happens.
  if (!opts.quiet) loc.uploads$.subscribe(progressBar());
  spawn.pull = opts.pull as SpawnOptions['pull'];
  const ctr = loc.node().spawnContainer(image, spawn);
  // #19: and when the node pulls it from its registry.
  if (!opts.quiet) ctr.pull$.subscribe(pullProgressBar());
  ctr.stdout$.subscribe(({ stream, data }) => (stream === 'stderr' ? process.stderr : process.stdout).write(data));
  ctr.termination$.subscribe({
    next: (code) => {
      process.exitCode = code;
      loc.complete();
    },
    error: (err: Error) => {
      process.stderr.write(`tfnz: ${err.message}\n`);
      process.exitCode = 1;
      loc.complete();
    },
  });
  try {
    await ctr.ready();
    for (const [local, remote] of ports) await ctr.attachTunnel(remote, { localPort: local });
    if (sshPort !== undefined) {
      const ssh = await ctr.createSshServer(sshPort);
      process.stderr.write(`tfnz: ssh -p ${ssh.port} root@localhost  (sftp -P ${ssh.port} root@localhost; any user name, with one of your own keys)\n`);
    }
    for (const [fqdn, rewrite] of sites) {
      const endpoint = loc.endpointFor(fqdn);
      await endpoint.publish(new Cluster({ containers: [ctr], rewrite }), fqdn, { ssl });
      process.stderr.write(`tfnz: published at ${endpoint.url(fqdn, { https: ssl !== undefined })}\n`);
    }
  } catch (err) {
    await loc.disconnect();
    throw err;
  }
  await loc.run();
}

/** #16: the container options among the flags. Ready (and so tunnels, --web, --ssh) waits for --wait-log and --health-cmd. */
function containerFlags(opts: RunCommandOptions): SpawnOptions {
  const memoryMb = opts.memory === undefined ? undefined : parseMemory(opts.memory);
  const cpus = opts.cpus === undefined ? undefined : Number(opts.cpus);
  if (cpus !== undefined && !(cpus > 0)) throw new Error(`--cpus wants a number of CPUs, e.g. 1.5 (got '${opts.cpus}')`);
  const labels = Object.fromEntries(opts.label.map((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? [l, ''] : [l.slice(0, eq), l.slice(eq + 1)];
  }));
  const waits: WaitStrategy[] = [];
  if (opts.waitLog !== undefined) waits.push(Wait.forLogMessage(opts.waitLog));
  if (opts.healthCmd !== undefined) waits.push(Wait.forHealthCheck());
  return {
    resources: memoryMb !== undefined || cpus !== undefined ? { memoryMb, cpus } : undefined,
    user: opts.user, workdir: opts.workdir, entrypoint: opts.entrypoint === undefined ? undefined : [opts.entrypoint],
    labels: opts.label.length ? labels : undefined, tag: opts.tag,
    healthcheck: opts.healthCmd === undefined ? undefined : { command: opts.healthCmd },
    waitFor: waits.length === 0 ? undefined : waits.length === 1 ? waits[0] : Wait.forAll(waits),
  };
}

/** Docker's memory sizes: 512m, 1g, 1.5g, 100000k, or bytes; in whole MiB. */
export function parseMemory(spec: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(spec);
  if (!m) throw new Error(`--memory wants a size like 512m or 1g (got '${spec}')`);
  const bytes = Number(m[1]) * { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.ceil(bytes / 2 ** 20);
}

function parsePortMap(spec: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`-p wants LOCAL:REMOTE port numbers, e.g. 8080:80 (got '${spec}')`);
  return [Number(m[1]), Number(m[2])];
}

function parsePort(spec: string, flag: string): number {
  if (!/^\d+$/.test(spec) || Number(spec) > 65535) throw new Error(`${flag} wants a port number, 0 for any free one (got '${spec}')`);
  return Number(spec);
}

function parseWeb(spec: string): [string, string | undefined] {
  const [fqdn, rewrite, ...rest] = spec.split(':');
  if (!fqdn || rest.length) throw new Error(`-w wants FQDN or FQDN:REWRITE, e.g. www.localhost (got '${spec}')`);
  return [fqdn, rewrite || undefined];
}

function readCertificate(spec: string): [string, string] {
  const files = spec.split(',');
  if (files.length !== 2) throw new Error(`--ssl wants CERT.pem,KEY.pem (got '${spec}')`);
  return files.map((f) => readFileSync(f, 'utf8')) as [string, string];
}

function parseEnv(spec: string): [string, string] {
  const eq = spec.indexOf('=');
  if (eq < 0) {
    const value = process.env[spec];
    if (value === undefined) throw new Error(`-e ${spec}: no such variable in this environment; use -e ${spec}=value`);
    return [spec, value];
  }
  return [spec.slice(0, eq), spec.slice(eq + 1)];
}
