/**
 * Which network stack a process runs in: the kernel (its boot id, new at every boot) and the
 * network namespace (its inode, as `readlink /proc/self/ns/net` shows it). Two processes with the
 * same identity see the same interfaces, routes and packet filter, so a container's private
 * address one of them reaches, the other reaches too. An address alone proves nothing: another
 * namespace or machine can hold a container with the same 172.17.x address.
 */
import { readFileSync, readlinkSync } from 'node:fs';

let cached: string | null | undefined;

/** This process's network stack as `<boot id>/<netns>`, or undefined where the system does not tell (not Linux). */
export function networkStackId(): string | undefined {
  if (cached === undefined) {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const netns = readlinkSync('/proc/self/ns/net');
      cached = boot && netns ? `${boot}/${netns}` : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
