/**
 * `tfnz/server`: the location server and the engines it drives. Separate from the SDK (`tfnz`) so
 * that a program talking to a location loads none of this; needs the optional packages dockerode
 * and tar-stream (`npm install dockerode tar-stream`).
 */
export { LocationServer, type LocationServerOptions } from './location-server';
export { LIMITS, DEFAULT_LIMITS, type Limits, type LimitInfo } from './limits';
export { processIsGone } from './reaper';
export { DockerEngine, type DockerEngineOptions } from '../engines/docker-engine';
export { SwarmNodeEngine, type SwarmNodeEngineOptions } from '../engines/swarm-node-engine';
export type { SwarmOptions } from './swarm-nodes';
export type { Engine, ContainerSpec, ContainerOptions, ContainerResources, EngineLog } from '../engines/engine';
export type { BuildSpec, BuildOutput } from '../engines/engine';
export type { LogHistoryLimits } from './log-history';
export type { TlsIdentity } from './tls';
export type {
  Attachment, EngineDescription, ExecHandle, ExecSpec, FileSink, FileSource, LabelledContainer, LabelledVolume, Mount, TaggedImage,
} from '../engines/engine';
export type { LayerCache, ImageDescription, LayerSink, PruneResult } from './layer-cache';
export type { NodePool, PoolNode } from './node-pool';
export type { PullReport } from '../engines/registry-pull';
export type { HostAgent, HostCommandResult } from '../engines/docker-host-agent';
