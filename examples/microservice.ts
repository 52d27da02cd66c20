// Two services, both containers. "api" is a cluster of nginx containers published at api.localhost
// through the location's front door. "web", a busybox httpd, answers each request by asking api
// through that endpoint name alone (the location serves the name to containers, issue #15) and
// passing on what api said. While requests flow through web, api scales out from one container to
// three and back in to two; the program prints what every request got and exits 1 if any failed.
//
//   npx tsx examples/microservice.ts        (TFNZ_LOCATION picks a location; default embedded)
import http from 'node:http';
import { Cluster, Location, type Container } from 'tfnz';

const API = 'api.localhost';
const WEB = 'web.localhost';
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

// Service two: web, a CGI script that calls api by its endpoint name, published too.
const callApi = `#!/bin/sh
if answer=$(wget -q -O- http://${API}:${endpoint.httpPort}/); then
  printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s\\n' "$answer"
else
  printf 'HTTP/1.0 502 Bad Gateway\\r\\n\\r\\nweb could not reach ${API}\\n'
fi
`;
const webServer = node.spawnContainer('busybox', {
  command: ['sh', '-c', 'chmod +x /www/cgi-bin/api && exec httpd -f -p 80 -h /www'],
  preBootFiles: [['/www/cgi-bin/api', callApi]],
});
await webServer.waitTcp(80);
await endpoint.publish(new Cluster({ containers: [webServer] }), WEB);
await endpoint.waitHttp200(WEB, { path: '/cgi-bin/api' });

// Traffic through web while api changes size.
const servedBy = new Map<string, number>();
let failed = 0;
let sent = 0;
let stopAt = MAX_REQUESTS; // lowered once scaling is over
async function client(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  while (sent < stopAt) {
    sent++;
    const answer = await fetchText(endpoint.requestOptions(WEB, { path: '/cgi-bin/api' }), agent).catch((err: Error) => ({ status: 0, body: err.message }));
    if (answer.status === 200) servedBy.set(answer.body.trim(), (servedBy.get(answer.body.trim()) ?? 0) + 1);
    else {
      failed++;
      console.error(`request failed: ${answer.status} ${answer.body.trim()}`);
    }
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
await loc.disconnect();
process.exitCode = failed === 0 ? 0 : 1;

function fetchText(options: http.RequestOptions, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ ...options, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
