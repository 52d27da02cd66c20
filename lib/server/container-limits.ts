/**
 * What every container gets by default (finding 8 of issue 13): a cap on processes (a fork bomb
 * stays in its container), on memory and on CPU, and no NET_RAW (no raw sockets: no spoofed
 * packets onto the location's networks). A location raises them with its limits.
 */
import type { ContainerResources } from '../engines/engine';
import type { Limits } from './limits';

export function containerResources(limits: Limits): ContainerResources {
  return {
    pids: limits.containerPids,
    memoryBytes: limits.containerMemoryBytes,
    cpus: limits.containerCpus,
    dropCapabilities: ['NET_RAW'],
  };
}
