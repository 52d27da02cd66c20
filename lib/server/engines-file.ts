/**
 * A running location's engines, from a file an operator edits: `tfnz location --engines-file F`.
 *
 * Format: one engine per line, `ADDRESS [NAME]`; blank lines and `#` comments are ignored.
 *   unix:///run/tfnz/node2.sock
 *   tcp://10.0.0.7:2375       rack-7
 *   https://10.0.0.8:2376     secure-one      (TLS: certs from DOCKER_CERT_PATH or ?certs=DIR)
 *
 * Why a file, polled: it is the simplest thing that is robust. Editors that replace the file, files
 * on any filesystem and config-management tools all work (fs.watch misses replaced files; stat
 * polling does not). SIGHUP re-reads it at once. Each re-read reconciles:
 *   - listed and not live → `addEngine` (an engine that does not answer is retried every few seconds);
 *   - added from this file earlier and no longer listed → `removeEngine`: its containers end with
 *     NodeGone and are removed; the node stays in state, not alive.
 * Engines given with --engine are never removed by the file.
 */
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { LocationServer } from './location-server';

export interface EngineLine {
  address: string;
  name?: string;
}

export function parseEnginesFile(text: string): EngineLine[] {
  const engines: EngineLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [address, ...name] = line.split(/\s+/);
    engines.push({ address, name: name.length ? name.join(' ') : undefined });
  }
  return engines;
}

export interface EnginesFileOptions {
  /** How often the file's stat is polled; default 1 s. */
  pollMs?: number;
  /** How often engines that did not answer are tried again; default 5 s. */
  retryMs?: number;
  log?: (line: string) => void;
}

export class EnginesFile {
  private readonly fromFile = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private readonly onHup = () => void this.reconcile();
  private readonly log: (line: string) => void;

  constructor(
    private readonly server: LocationServer,
    readonly path: string,
    private readonly opts: EnginesFileOptions = {},
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  /** Read the file once (engines that answer become nodes), then follow it. */
  async start(): Promise<void> {
    await this.reconcile();
    watchFile(this.path, { interval: this.opts.pollMs ?? 1000 }, () => void this.reconcile());
    process.on('SIGHUP', this.onHup);
    this.retryTimer = setInterval(() => void this.reconcile(true), this.opts.retryMs ?? 5000);
    this.retryTimer.unref();
  }

  stop(): void {
    unwatchFile(this.path);
    process.removeListener('SIGHUP', this.onHup);
    clearInterval(this.retryTimer);
  }

  /** One reconcile at a time, in order; resolves when this one is done. */
  reconcile(quietly = false): Promise<void> {
    this.running = this.running.then(() => this.apply(quietly)).catch((err: Error) => this.log(`engines file ${this.path}: ${err.message}`));
    return this.running;
  }

  private async apply(quietly: boolean): Promise<void> {
    let wanted: EngineLine[];
    try {
      wanted = parseEnginesFile(await readFile(this.path, 'utf8'));
    } catch (err) {
      if (!quietly) this.log(`cannot read engines file ${this.path}: ${(err as Error).message}; keeping the engines as they are`);
      return;
    }
    const wantedAddresses = new Set(wanted.map((e) => e.address));
    for (const address of [...this.fromFile]) {
      if (wantedAddresses.has(address)) continue;
      this.fromFile.delete(address);
      this.log(`engine ${address} is no longer in ${this.path}: removing it`);
      await this.server.removeEngine(address);
    }
    for (const { address, name } of wanted) {
      if (this.server.nodes.byAddress(address)?.info.alive) {
        this.fromFile.add(address);
        continue;
      }
      try {
        const info = await this.server.addEngine(address, name);
        this.fromFile.add(address);
        this.log(`engine ${address} from ${this.path} is node ${info.id} (${info.name})`);
      } catch (err) {
        if (!quietly) this.log(`engine ${address} from ${this.path} does not answer yet (${(err as Error).message}); will retry`);
      }
    }
  }
}
