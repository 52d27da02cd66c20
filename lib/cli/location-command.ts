/**
 * `tfnz location`: run a location server in the foreground until SIGINT/SIGTERM.
 *
 * Nodes come from repeated `--engine ADDRESS` (fixed for the life of the process) and/or from
 * `--engines-file FILE` (one `ADDRESS [NAME]` a line), which is followed while the location runs:
 * engines added to the file become nodes, engines taken out of it are removed (see
 * lib/server/engines-file.ts); SIGHUP re-reads it at once. `--swarm MANAGER` takes them from a Docker
 * Swarm (lib/server/swarm-nodes.ts). With none of these, the local Docker Engine.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { accountsDir } from '../shared/tfnz-home';
import { DockerEngine } from '../engines/docker-engine';
import type { Engine } from '../engines/engine';
import { LocationServer, defaultCacheDir } from '../server/location-server';
import { fingerprintOf, readTlsIdentity, selfSignedTlsIdentity, type TlsIdentity } from '../server/tls';
import { isLoopback } from '../protocol/loopback';
import { EnginesFile } from '../server/engines-file';
import { LIMITS, parseLimit, type Limits } from '../server/limits';

export interface LocationCommandOptions {
  listen: string;
  name: string;
  engine: string[];
  enginesFile?: string;
  /** A swarm manager's engine address: the nodes come from the swarm (swarm-nodes.ts). */
  swarm?: string;
  /** The swarm's attachable overlay network; default 'tfnz'. */
  swarmNetwork?: string;
  statsInterval: string;
  quiet?: boolean;
  /** Admit only keys in this file (default ~/.tfnz/authorized_keys) … */
  authorizedKeys?: string;
  /** … or anyone: for a location only trusted programs can reach. */
  open?: boolean;
  domain: string[];
  httpPort: string;
  httpsPort: string;
  webHost?: string;
  doorWorkers?: string;
  /** Image cache directory (default ~/.tfnz/location-cache/<name>). */
  cacheDir?: string;
  /** #16: log history bounds per container, and whether privileged containers are allowed. */
  logBytes?: string;
  logLines?: string;
  allowPrivileged?: boolean;
  engineLogs?: string;
  /** The limits' flags (--frame-bytes …), by their camel-case keys, as commander gives them. */
  [limit: string]: unknown;
  /**
   * wss:// (with tlsCert/tlsKey, else a self-signed certificate kept in the cache dir), or false for
   * plain ws:// (loopback only). Default: wss:// unless listening on loopback, or given a certificate.
   */
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

export async function locationCommand(opts: LocationCommandOptions): Promise<void> {
  const [host, port] = splitHostPort(opts.listen);
  const log = opts.quiet ? () => undefined : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const addresses = opts.engine.length || opts.enginesFile || opts.swarm ? opts.engine : ['unix:///var/run/docker.sock'];
  const engines: Engine[] = addresses.map((a) => new DockerEngine(a));
  const statsIntervalMs = Number(opts.statsInterval);
  if (!Number.isFinite(statsIntervalMs) || statsIntervalMs < 100) throw new Error(`--stats-interval wants milliseconds ≥ 100 (got '${opts.statsInterval}')`);
  const authorizedKeys = opts.open ? undefined : (opts.authorizedKeys ?? join(accountsDir(), 'authorized_keys'));
  const [httpPort, httpsPort] = [opts.httpPort, opts.httpsPort].map((p, i) => portNumber(p, i ? '--https-port' : '--http-port'));
  const domains = opts.domain.length ? opts.domain : undefined;
  // 'auto': one per core but one, the location's own loop keeping a core (sessions, the output relay, what workers hand back).
  const frontDoorWorkers = opts.doorWorkers === undefined ? 0 : opts.doorWorkers === 'auto' ? Math.max(1, availableParallelism() - 1) : Number(opts.doorWorkers);
  if (!Number.isInteger(frontDoorWorkers) || frontDoorWorkers < 0 || frontDoorWorkers > 64) throw new Error(`--door-workers wants a number of processes from 0 to 64, or auto (got '${opts.doorWorkers}')`);
  const tls = await tlsIdentity(opts, host);
  const logHistory = {
    maxBytes: opts.logBytes === undefined ? undefined : Number(opts.logBytes),
    maxLines: opts.logLines === undefined ? undefined : Number(opts.logLines),
  };
  const server = await LocationServer.start({
    name: opts.name, host, port, engines, statsIntervalMs, log, authorizedKeys, domains, httpPort, httpsPort, webHost: opts.webHost, cacheDir: opts.cacheDir, tls, frontDoorWorkers,
    logHistory: Object.fromEntries(Object.entries(logHistory).filter(([, v]) => v !== undefined)), allowPrivileged: !!opts.allowPrivileged, engineLogs: opts.engineLogs,
    limits: limitsFrom(opts), guardProcess: true,
    swarm: opts.swarm ? { manager: opts.swarm, network: opts.swarmNetwork } : undefined,
  });
  if (tls) log(`TLS certificate sha256 ${fingerprintOf(tls)} (clients pin it on first use; tell your users to check it)`);
  log(authorizedKeys ? `admitting the users whose keys are in ${authorizedKeys} (add one with: tfnz authorize KEY)` : 'open: admitting anyone who can connect');
  const file = opts.enginesFile ? new EnginesFile(server, opts.enginesFile, { log }) : undefined;
  await file?.start();
  // The one line on stdout: where to connect (scripts and specs read it).
  process.stdout.write(`${server.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('shutting down: ending every session');
  file?.stop();
  await server.close();
}

/** The limits given as flags; commander names `--frame-bytes` `frameBytes`, like the Limits keys. */
function limitsFrom(opts: LocationCommandOptions): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const info of LIMITS) {
    const value = opts[info.key];
    if (typeof value === 'string') limits[info.key] = parseLimit(info, value);
  }
  return limits;
}

async function tlsIdentity(opts: LocationCommandOptions, host: string): Promise<TlsIdentity | undefined> {
  const wanted = opts.tls ?? (!!(opts.tlsCert || opts.tlsKey) || !isLoopback(host));
  if (!wanted) {
    if (opts.tlsCert || opts.tlsKey) throw new Error('--no-tls and --tls-cert/--tls-key contradict each other');
    if (!isLoopback(host)) throw new Error(`--no-tls serves plain ws://, which clients accept only on loopback; listen on 127.0.0.1 or drop --no-tls (listening on ${host})`);
    return undefined;
  }
  if (opts.tlsCert || opts.tlsKey) {
    if (!opts.tlsCert || !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
    return readTlsIdentity(opts.tlsCert, opts.tlsKey);
  }
  return selfSignedTlsIdentity(opts.cacheDir ?? defaultCacheDir(opts.name), [host]);
}

function portNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} wants a port number 0-65535 (got '${value}')`);
  return n;
}

function splitHostPort(listen: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen wants HOST:PORT, e.g. 127.0.0.1:2020 (got '${listen}')`);
  return [m[1] ?? m[2], Number(m[3])];
}
