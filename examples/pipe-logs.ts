// Pipe a container's logs through RxJS: nginx writes its access log to stdout; keep the request
// lines, turn each into "METHOD path -> status", and print them. Makes a few requests itself and
// ends; run with `npx tsx examples/pipe-logs.ts`.
import { filter, map, take } from 'rxjs';
import { Location, lines } from 'tfnz';

const REQUESTS = ['/', '/missing', '/', '/index.nginx-debian.html'];

const loc = await Location.connect({ quiet: true });
const nginx = loc.node().spawnContainer('nginx');

const accessLog = /"(\w+) (\S+) HTTP\/[\d.]+" (\d{3})/;
const done = new Promise<void>((resolve) =>
  nginx.stdout$
    .pipe(
      filter((chunk) => chunk.stream === 'stdout'),
      lines(),
      map((line) => accessLog.exec(line)),
      filter((m): m is RegExpExecArray => m !== null),
      map(([, method, path, status]) => `${method} ${path} -> ${status}`),
      take(REQUESTS.length),
    )
    .subscribe({ next: (entry) => console.log(entry), complete: resolve }),
);

const tunnel = await nginx.attachTunnel(80);
for (const path of REQUESTS) await fetch(`http://127.0.0.1:${tunnel.localPort}${path}`).then((r) => r.arrayBuffer());
await done;
await loc.disconnect();
