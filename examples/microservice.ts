// Two services. "api" is a cluster of nginx containers published at api.localhost through the
// location's front door. "web", a small HTTP service in this program, finds api through that
// endpoint name alone and answers with what api said. While requests flow through web, api scales
// out from one container to three and back in to two; the program prints what every request got
// and exits 1 if any failed.
//
//   npx tsx examples/microservice.ts        (TFNZ_LOCATION picks a location; default embedded)
import http from 'node:http';
import { Cluster, Location, type Container } from 'tfnz';

const API = 'api.localhost';
const MAX_REQUESTS = 20_000; // the load loop is bounded, whatever happens

const loc = await Location.connect();
const node = loc.node();
const endpoint = loc.endpointFor(API);

/** An api instance: nginx whose page names it. */
async function apiInstance(n: number): Promise<Container> {
  const c = node.spawnContainer('nginx', { preBootFiles: [['/var/www/html/index.html', `api-${n}\n`]] });
  await c.waitHttp200();
  return c;
}

// Service one: api, published by name.
const api = new Cluster({ containers: [await apiInstance(1)] });
api.containers$.subscribe((members) => console.error(`api runs on ${members.length} container(s)`));
await endpoint.publish(api, API);
await endpoint.waitHttp200(API);

// Service two: web, which reaches api by its endpoint name only.
const web = http.createServer((req, res) => {
  http.get(endpoint.requestOptions(API, { path: req.url }), (answer) => {
    res.writeHead(answer.statusCode ?? 502);
    answer.pipe(res);
  }).on('error', (err) => res.writeHead(502).end(err.message));
});
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
const webPort = (web.address() as { port: number }).port;

// Traffic through web while api changes size.
const servedBy = new Map<string, number>();
let failed = 0;
let sent = 0;
let stopAt = MAX_REQUESTS; // lowered once scaling is over
async function client(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  while (sent < stopAt) {
    sent++;
    const answer = await fetchText(`http://127.0.0.1:${webPort}/`, agent).catch((err: Error) => ({ status: 0, body: err.message }));
    if (answer.status === 200) servedBy.set(answer.body.trim(), (servedBy.get(answer.body.trim()) ?? 0) + 1);
    else failed++;
  }
  agent.destroy();
}
const traffic = Promise.all([client(), client(), client()]);

const [second, third] = await Promise.all([apiInstance(2), apiInstance(3)]);
await api.addContainer(second);
await api.addContainer(third);
const first = api.containers[0] as Container;
await api.removeContainer(first); // no new requests go to it; then it can go
await node.destroyContainer(first);
stopAt = Math.min(MAX_REQUESTS, sent + 300); // a little more traffic on the new shape, then stop

await traffic;
console.log(`${sent} requests through web, ${failed} failed; api answered from ${[...servedBy].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
web.close();
await loc.disconnect();
process.exitCode = failed === 0 ? 0 : 1;

function fetchText(url: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
