/**
 * The spawn options beyond image, env and command (#16), as the engine takes them. Their values
 * were checked against the catalogue (fields-container-options.ts) before the handler ran; here
 * the location adds its policy (privileged) and the defaults, still before anything is created.
 */
import { BadRequest, type ValidParamsOf } from '../protocol';
import type { ContainerOptions } from '../engines/engine';

/** Health check defaults: quicker than Docker's 30 s interval, so Wait.forHealthCheck is prompt. */
const HEALTH_DEFAULTS = { intervalMs: 1000, timeoutMs: 5000, retries: 3, startPeriodMs: 0 };

export function containerOptions(p: ValidParamsOf<'spawn_container'>, allowPrivileged: boolean): ContainerOptions {
  if (p.privileged && !allowPrivileged) {
    throw new BadRequest("'privileged': this location does not allow privileged containers (its operator can start it with --allow-privileged)");
  }
  const hc = p.healthcheck;
  return {
    entrypoint: p.entrypoint, user: p.user, workdir: p.workdir, labels: p.labels,
    memoryMb: p.resources?.memoryMb, cpus: p.resources?.cpus, capAdd: p.capAdd, capDrop: p.capDrop,
    tmpfs: p.tmpfs, shmSizeMb: p.shmSizeMb, privileged: p.privileged,
    healthcheck: hc && {
      ...HEALTH_DEFAULTS, ...Object.fromEntries(Object.entries(hc).filter(([, v]) => v !== undefined)),
      // Docker's form: a line for the shell, or argv.
      command: typeof hc.command === 'string' ? ['CMD-SHELL', hc.command] : ['CMD', ...hc.command],
    },
  };
}
