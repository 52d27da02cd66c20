/**
 * What the location needs from a container engine. One adapter per engine kind implements it;
 * Docker (docker-engine.ts) is the first. Everything the location creates carries `labels`, so the
 * engine itself stays the source of truth about what exists.
 */
import type { NodeStats, OutputStream } from '../protocol';

export interface ContainerSpec {
  /** Engine-side name, unique per engine. */
  name: string;
  image: string;
  env: [string, string][];
  /** Replaces the image's entrypoint and command when given. */
  command?: string[];
  /** Boot with a placeholder main process; `wake()` runs the real one. */
  sleep: boolean;
  /** Keep the main process's stdin open for `writeStdin`. */
  stdin: boolean;
  labels: Record<string, string>;
}

export interface LabelledContainer {
  engineId: string;
  labels: Record<string, string>;
  running: boolean;
}

/** A live attachment to a container's main process. */
export interface Attachment {
  /** Stop delivering output until `resume()`; the engine's buffers fill, then the process blocks. */
  pause(): void;
  resume(): void;
  /** Write to the main process's stdin (only when spawned with `stdin`). */
  write(data: Uint8Array): void;
  /** Resolves when the output stream has ended (all output was delivered). */
  ended: Promise<void>;
}

export interface EngineDescription {
  name: string;
  cores: number;
  memoryMiB: number;
}

export interface Engine {
  /** Where the engine listens, e.g. unix:///var/run/docker.sock. */
  readonly address: string;
  describe(): Promise<EngineDescription>;
  sampleStats(): Promise<NodeStats>;
  /** Create a container (not started); returns the engine's id. Missing image → ImageNotFound. */
  create(spec: ContainerSpec): Promise<string>;
  /** Attach to the main process before start, so no output is lost. */
  attach(engineId: string, withStdin: boolean, onOutput: (stream: OutputStream, data: Buffer) => void): Promise<Attachment>;
  start(engineId: string): Promise<void>;
  /** Run the real main process of a container created with `sleep`. */
  wake(engineId: string): Promise<void>;
  /** Resolves with the main process's exit code once it has ended. */
  wait(engineId: string): Promise<number>;
  /** The address other hosts on this engine's network (and the location) reach it at. */
  privateIp(engineId: string): Promise<string | undefined>;
  /** Kill and remove; a container already gone is not an error. */
  remove(engineId: string): Promise<void>;
  /** Every container (running or not) carrying all the given labels. */
  list(labels: Record<string, string>): Promise<LabelledContainer[]>;
}
