/**
 * The Docker Engine on the user's machine, which the SDK reads images from (and never runs
 * anything on): $DOCKER_HOST or /var/run/docker.sock unless `Location.connect({ localEngine })`
 * names another, or `false` for none.
 */
import Docker from 'dockerode';
import { dockerOptions } from '../engines/docker-engine';

export interface LocalImage {
  /** sha256:… of the image config. */
  id: string;
  /** Diff ids, bottom layer first. */
  layers: string[];
}

export class LocalEngine {
  private readonly docker?: Docker;

  constructor(readonly address: string | false) {
    this.docker = address ? new Docker(dockerOptions(address)) : undefined;
  }

  static fromEnvironment(option: string | false | undefined): LocalEngine {
    if (option !== undefined) return new LocalEngine(option);
    const env = process.env.DOCKER_HOST;
    return new LocalEngine(env && /^(unix|tcp|https?):\/\//.test(env) ? env : 'unix:///var/run/docker.sock');
  }

  /** The image, or undefined when there is no engine, it does not answer, or it lacks the image. */
  async image(name: string): Promise<LocalImage | undefined> {
    if (!this.docker) return undefined;
    try {
      const info = await this.docker.getImage(name).inspect();
      return { id: info.Id, layers: info.RootFS?.Layers ?? [] };
    } catch {
      return undefined;
    }
  }

  /** `docker save` of one image, as a stream. */
  async save(id: string): Promise<NodeJS.ReadableStream> {
    if (!this.docker) throw new Error('no local Docker Engine');
    return this.docker.getImage(id).get();
  }
}
