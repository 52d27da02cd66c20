/**
 * Running `iptables`: the location's host firewall (lib/engines/host-firewall.ts) and the SDK's
 * kernel-forwarded tunnels (lib/client/kernel-forward.ts) both change the packet filter.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `iptables -w <args>` on some host; resolves with its stdout, rejects with its stderr. */
export type IptablesRunner = (args: string[]) => Promise<string>;

/** `iptables` on this machine. */
export const localIptables: IptablesRunner = async (args) => (await run('iptables', ['-w', ...args])).stdout;
