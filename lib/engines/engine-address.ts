/**
 * TLS material for an engine address. `https://HOST:PORT` is a Docker Engine that wants TLS, as
 * dockerd --tlsverify serves it; the client certificate comes, as for the docker CLI, from a
 * directory holding ca.pem, cert.pem and key.pem: the address's `certs` parameter
 * (`https://10.0.0.8:2376?certs=/etc/tfnz/node8`), else $DOCKER_CERT_PATH. With neither, the
 * system's CAs verify the engine and no client certificate is sent.
 */
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../protocol';

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function tlsFiles(url: URL): TlsFiles {
  const dir = url.searchParams.get('certs') ?? process.env.DOCKER_CERT_PATH;
  if (!dir) return {};
  try {
    return {
      ca: readFileSync(join(dir, 'ca.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
      key: readFileSync(join(dir, 'key.pem')),
    };
  } catch (err) {
    throw new EngineError(`cannot read the TLS files (ca.pem, cert.pem, key.pem) for ${url.origin} in ${dir}: ${(err as Error).message}`);
  }
}

/** dockerode's options for an engine address (unix://, tcp://, http://, https://). */
export function dockerOptions(address: string): Docker.DockerOptions {
  const url = new URL(address);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  if (url.protocol === 'https:') return { host: url.hostname, port: Number(url.port || 2376), protocol: 'https', ...tlsFiles(url) };
  throw new EngineError(`engine address '${address}' is not unix://, tcp://, http:// or https://`);
}
