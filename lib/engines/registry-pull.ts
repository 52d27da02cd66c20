/**
 * Registry pulls on a Docker Engine node: the engine itself fetches the image (POST /images/create)
 * with the credentials of this one request in its X-Registry-Auth header; nothing is written to the
 * engine's own config. Progress is folded per layer from the engine's JSON stream; failures become
 * ImageNotFound, RegistryUnauthorized or RegistryUnreachable with the engine's own words.
 */
import type Docker from 'dockerode';
import {
  EngineError, ImageNotFound, RegistryUnauthorized, RegistryUnreachable,
  type PullLayerProgress, type PullProgress, type RegistryAuth, type TfnzError,
} from '../protocol';

/** What a pull reports while it runs (the location adds the node). */
export type PullReport = Omit<PullProgress, 'node'>;

/** Fewest milliseconds between two reports, but for a layer finishing and the last one. */
const REPORT_EVERY_MS = 100;

interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** The X-Registry-Auth document the Engine API reads; dockerode base64-encodes it. */
function authConfig(registry: string, auth: RegistryAuth | undefined): Record<string, string> | undefined {
  return auth && { username: auth.username, password: auth.password, serveraddress: registry };
}

/** Pull `canonical` (a normalised reference of `registry`) onto the engine; resolves with the image id. */
export async function pullDockerImage(
  docker: Docker, address: string, canonical: string, registry: string, auth: RegistryAuth | undefined, onProgress: (p: PullReport) => void,
): Promise<string> {
  const tracker = new PullTracker(canonical, onProgress);
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker.createImage(authConfig(registry, auth) as Docker.AuthConfig, { fromImage: canonical })) as NodeJS.ReadableStream;
  } catch (err) {
    throw registryError(err, canonical, registry, !!auth, address);
  }
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: PullEvent[]) => {
        const failed = err ?? output?.find((o) => o.error);
        if (failed) reject(registryError(failed, canonical, registry, !!auth, address));
        else resolve();
      },
      (event: PullEvent) => tracker.update(event),
    ),
  );
  const id = (await docker.getImage(canonical).inspect()).Id;
  tracker.finish();
  return id;
}

/**
 * Whether the registry lets these credentials read `canonical` (GET /distribution/…/json: the
 * engine asks the registry for the manifest's descriptor, no layers move). Throws the typed error.
 */
export async function checkDockerRegistryAccess(docker: Docker, address: string, canonical: string, registry: string, auth: RegistryAuth | undefined): Promise<void> {
  try {
    await docker.getImage(canonical).distribution({ authconfig: authConfig(registry, auth) });
  } catch (err) {
    throw registryError(err, canonical, registry, !!auth, address);
  }
}

/** The engine's words for a failed pull or check, as the typed error a user can act on. */
export function registryError(err: unknown, ref: string, registry: string, hadAuth: boolean, address: string): TfnzError {
  const e = err as { json?: { message?: string }; message?: string; error?: string; errorDetail?: { message?: string }; statusCode?: number };
  const said = (e.errorDetail?.message ?? e.error ?? e.json?.message ?? e.message ?? String(err)).trim();
  const login = `log in to ${registry} (docker login ${registry}) or pass connect({ registryAuth: { '${registry}': { username, password } } })`;
  if (/unauthorized|authentication required|no basic auth credentials|denied|\b401\b/i.test(said)) {
    return new RegistryUnauthorized(
      hadAuth ? `registry ${registry} refused the credentials for '${ref}' (${said}); check the user name and password` : `registry ${registry} wants credentials for '${ref}' (${said}); ${login}`,
    );
  }
  if (/manifest unknown|not found|does not exist|no such image|\b404\b/i.test(said) || e.statusCode === 404) {
    return new ImageNotFound(`registry ${registry} has no image '${ref}' (${said}); check the name and tag (docker push it there first)`);
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|no route to host|x509|certificate|tls|TLS handshake|timeout/i.test(said)) {
    return new RegistryUnreachable(`node engine ${address} cannot reach registry ${registry} for '${ref}' (${said}); check the host and port, and that the node trusts its certificate (/etc/docker/certs.d/${registry}/ca.crt)`);
  }
  // A loopback registry refused over https is retried over http by the engine, whose last words
  // then hide the refusal; with no credentials sent, a login is what is missing.
  if (!hadAuth && /HTTP request to an HTTPS server/i.test(said)) {
    return new RegistryUnauthorized(`registry ${registry} wants credentials for '${ref}' (${said}); ${login}`);
  }
  return new EngineError(`node engine ${address} could not pull '${ref}': ${said}`);
}

/** Folds the engine's pull events into per-layer and total progress, reported at most every 100 ms. */
class PullTracker {
  private readonly layers = new Map<string, PullLayerProgress>();
  private last = 0;

  constructor(private readonly image: string, private readonly report: (p: PullReport) => void) {}

  update(event: PullEvent): void {
    const { id, status = '' } = event;
    if (!id || !/^[0-9a-f]{12}$/.test(id)) return; // "Pulling from …", "Digest: …": not a layer
    let layer = this.layers.get(id);
    if (!layer) this.layers.set(id, (layer = { id, status, bytesDone: 0, bytesTotal: 0, done: false }));
    const wasDone = layer.done;
    layer.status = status;
    const detail = event.progressDetail;
    if (status === 'Downloading' && detail?.total) {
      layer.bytesTotal = detail.total;
      layer.bytesDone = detail.current ?? layer.bytesDone;
    } else if (status === 'Download complete' || status === 'Verifying Checksum') {
      layer.bytesDone = layer.bytesTotal;
    } else if (status === 'Pull complete' || status === 'Already exists') {
      layer.bytesDone = layer.bytesTotal;
      layer.done = true;
    }
    const now = Date.now();
    if (layer.done !== wasDone || now - this.last >= REPORT_EVERY_MS) {
      this.last = now;
      this.report(this.snapshot('pulling'));
    }
  }

  finish(): void {
    for (const l of this.layers.values()) {
      l.done = true;
      l.bytesDone = l.bytesTotal;
    }
    this.report(this.snapshot('done'));
  }

  private snapshot(phase: PullReport['phase']): PullReport {
    const layers = [...this.layers.values()].map((l) => ({ ...l }));
    return {
      image: this.image,
      phase,
      layers,
      bytesDone: layers.reduce((sum, l) => sum + l.bytesDone, 0),
      bytesTotal: layers.reduce((sum, l) => sum + l.bytesTotal, 0),
      layersDone: layers.filter((l) => l.done).length,
      layersTotal: layers.length,
    };
  }
}
