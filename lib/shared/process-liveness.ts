/** Whether a process of this machine is gone, for state a dead process left behind (containers, packet-filter rules). */

/** True when no process with this pid is alive on this machine (one that is someone else's counts as alive). */
export function processIsGone(pid: string | number | undefined): boolean {
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return true;
  try {
    process.kill(n, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
