/**
 * A Dockerfile build on a Docker Engine through its API (the classic builder, which the API runs
 * without a BuildKit session and which needs no registry when every base is on the engine).
 * The engine streams JSON lines: `stream` (output text, "Step 2/5 : RUN …" opening each step),
 * `aux.ID` (an image id; the last is the result), `error` (the build failed).
 */
import type Docker from 'dockerode';
import { BuildFailed, EngineError } from '../protocol';
import { engineError } from './docker-streams';
import type { BuildOutput, BuildSpec } from './engine';

/** Output lines kept for the message of a failed build. */
const LAST_LINES = 20;

interface BuildMessage {
  stream?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string };
}

/** Build `context` on `docker`; resolves with the image id. */
export async function buildOnDocker(
  docker: Docker, context: NodeJS.ReadableStream, spec: BuildSpec, onOutput: (out: BuildOutput) => void,
): Promise<string> {
  let response: NodeJS.ReadableStream;
  try {
    response = await docker.buildImage(context, {
      dockerfile: spec.dockerfile,
      // The engine takes build args as one JSON object in the query string.
      buildargs: JSON.stringify(spec.buildArgs ?? {}) as unknown as Record<string, string>,
      target: spec.target ?? '',
      rm: true,
      forcerm: true,
      // Closing the request makes the engine cancel the build (and remove its step's container).
      abortSignal: spec.signal,
    });
  } catch (err) {
    if (spec.signal?.aborted) throw new BuildFailed('the build was cancelled');
    const e = err as { statusCode?: number; json?: { message?: string } };
    // 4xx/5xx at the start: the engine refused the Dockerfile or its options.
    if (e.statusCode) throw new BuildFailed(`the engine refused the build: ${e.json?.message ?? String(err)}`);
    throw engineError(err, 'starting a build');
  }
  const last: string[] = [];
  let step = '';
  let image: string | undefined;
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const cancelled = () => {
      (response as NodeJS.ReadableStream & { destroy(): void }).destroy();
      reject(new BuildFailed(`the build was cancelled${step ? ` at ${step}` : ''}`));
    };
    if (spec.signal?.aborted) return cancelled();
    spec.signal?.addEventListener('abort', cancelled, { once: true });
    docker.modem.followProgress(
      response,
      (err: Error | null) => {
        spec.signal?.removeEventListener('abort', cancelled);
        if (err) reject(engineError(err, 'building an image'));
        else resolve();
      },
      (m: BuildMessage) => {
        if (m.aux?.ID) image = m.aux.ID;
        if (m.error || m.errorDetail) failure = m.errorDetail?.message ?? m.error;
        if (typeof m.stream !== 'string' || m.stream === '') return;
        const started = /^Step (\d+)\/(\d+) : (.*)/.exec(m.stream);
        if (started) step = `step ${started[1]}/${started[2]} (${started[3].trim().slice(0, 200)})`;
        for (const line of m.stream.split('\n')) if (line.trim()) last.push(line);
        last.splice(0, Math.max(0, last.length - LAST_LINES));
        onOutput({ text: m.stream, step: started ? [Number(started[1]), Number(started[2])] : undefined });
      },
    );
  });
  if (failure !== undefined) {
    throw new BuildFailed(`${step || 'the build'} failed: ${failure.trim()}${last.length ? `\nlast output:\n${last.join('\n')}` : ''}`);
  }
  if (!image) throw new EngineError('the engine finished the build without naming the image it built');
  return image;
}
