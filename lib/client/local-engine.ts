/**
 * The Docker Engine on the user's machine, which the SDK reads images from (and never runs
 * anything on): $DOCKER_HOST or /var/run/docker.sock unless `Location.connect({ localEngine })`
 * names another, or `false` for none.
 *
 * This is the SDK's only way into lib/engines and dockerode, and both load on demand: on the first
 * look at a local image, not on `import 'tfnz'`. Without the optional dockerode package the
 * session works as with `localEngine: false`, and an upload says what to install.
 */
import type Docker from 'dockerode';
import { commonJsExports, importOptional } from '../shared/optional-dependency';
import { MissingDependency } from '../protocol/errors';

export interface LocalImage {
  /** sha256:… of the image config. */
  id: string;
  /** Diff ids, bottom layer first. */
  layers: string[];
}

export class LocalEngine {
  private docker?: Promise<Docker | undefined>;
  /** Why there is no client for the engine although an address is set (dockerode missing). */
  unavailable?: MissingDependency;

  constructor(readonly address: string | false) {}

  static fromEnvironment(option: string | false | undefined): LocalEngine {
    if (option !== undefined) return new LocalEngine(option);
    const env = process.env.DOCKER_HOST;
    return new LocalEngine(env && /^(unix|tcp|https?):\/\//.test(env) ? env : 'unix:///var/run/docker.sock');
  }

  /** The image, or undefined when there is no engine, it does not answer, or it lacks the image. */
  async image(name: string): Promise<LocalImage | undefined> {
    const docker = await this.client();
    if (!docker) return undefined;
    try {
      const info = await docker.getImage(name).inspect();
      return { id: info.Id, layers: info.RootFS?.Layers ?? [] };
    } catch {
      return undefined;
    }
  }

  /** `docker save` of one image, as a stream. */
  async save(id: string): Promise<NodeJS.ReadableStream> {
    const docker = await this.client();
    if (!docker) throw this.unavailable ?? new Error('no local Docker Engine');
    return docker.getImage(id).get();
  }

  private client(): Promise<Docker | undefined> {
    const address = this.address;
    if (!address) return Promise.resolve(undefined);
    this.docker ??= importOptional(
      () => Promise.all([import('dockerode'), import('../engines/engine-address')]),
      ['dockerode'],
      'reading images from your local Docker Engine',
    ).then(
      ([dockerode, { dockerOptions }]) => new (commonJsExports(dockerode))(dockerOptions(address)),
      (err: unknown) => {
        if (!(err instanceof MissingDependency)) throw err;
        this.unavailable = err;
        return undefined;
      },
    );
    return this.docker;
  }
}
