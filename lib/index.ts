/**
 * tfnz: program-driven containers. The SDK: everything a program needs to talk to a location.
 * The location server itself (LocationServer, DockerEngine) is `tfnz/server`.
 */
export { Location, locationUrl, type ConnectOptions, type PullImageOptions } from './client/location';
export { Node, type SpawnOptions } from './client/node';
export type { UploadProgress } from './client/image-upload';
export type { PullPolicy, PullProgress, PullLayerProgress, RegistryAuth } from './protocol/types';
export { parseImageReference, type ImageReference } from './shared/registry-reference';
export type { BuildOptions, BuildProgress, BuiltImage } from './client/image-build';
export { Container, type OutputChunk, type ProcessResult, type WaitHttpOptions } from './client/container';
export { Process, type ProcessOptions, type ProcessHost } from './client/process';
export { Wait, type WaitStrategy, type WaitTarget, type HttpWaitOptions } from './client/wait';
export type { LogEntry, LogOptions, LogReadOptions } from './client/container-logs';
export { Tunnel, type TunnelOptions, type TunnelPath } from './client/tunnel';
export { SshServer, sshHostKeyPath, type SshServerOptions } from './client/ssh-server';
export { Volume } from './client/volume';
export { ExternalContainer } from './client/external-container';
export { UserContainer, type UserContainerInfo } from './client/user-container';
export { WebEndpoint, type PublishOptions } from './client/web-endpoint';
export { Cluster, type ClusterOptions, type ClusterMember } from './client/cluster';
export { TaggedCollection, type Taggable } from './shared/tagged-collection';
export { validTag, displayName } from './protocol/tags';
export { lines } from './client/operators';
export { rankNodes, nodeScore } from './client/ranking';
export { reduce } from './client/reducer';
export { IdMap, tableGet, tableValues, tableSize, type Table } from './client/table';
export { initialState, type LocationState, type LocalAction, type Action, type ProcessInfo, type SshServerInfo } from './client/state';
export * from './protocol/errors';
export type { CommandName, ParamsOf, ResultOf } from './protocol/catalogue';
export type {
  NodeInfo, NodeStats, ContainerInfo, ContainerStatus, TunnelInfo, VolumeInfo, ExternalInfo, EndpointInfo,
  ResourceOffer, OutputStream, LogLine, HealthStatus, ContainerStats,
} from './protocol/types';
