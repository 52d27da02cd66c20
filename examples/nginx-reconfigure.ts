// Reconfigure a running nginx without restarting it: fetch its site config, put a new page and a
// changed config, check the config with `nginx -t`, and reload. Prints what a browser sees before
// and after, then ends; `npx tsx examples/nginx-reconfigure.ts --serve` keeps serving until Ctrl-C.
import { Location } from 'tfnz';

const SITE = '/etc/nginx/sites-enabled/default';

const loc = await Location.connect({ quiet: true });
const nginx = loc.node().spawnContainer('nginx');
const tunnel = await nginx.attachTunnel(80);
await nginx.waitHttp200();
const url = `http://127.0.0.1:${tunnel.localPort}/`;
const look = async () => {
  const res = await fetch(url);
  return `${res.status} ${res.headers.get('x-served-by') ?? '-'} ${(await res.text()).match(/<h1>(.*)<\/h1>/)?.[1]}`;
};
console.log(`before: ${await look()}`);

// New content in a new folder (put creates the folders), and the site pointed at it.
await nginx.put('/srv/site/index.html', '<!doctype html><h1>Reconfigured by tfnz</h1>\n');
const site = (await nginx.fetch(SITE)).toString();
const changed = site
  .replace(/root \/var\/www\/html;/, 'root /srv/site;')
  .replace(/server_name _;/, 'server_name _;\n\tadd_header X-Served-By tfnz always;');
await nginx.put(SITE, changed);

// Never reload a config nginx would reject: the running one keeps serving if this fails.
const check = await nginx.runProcess('nginx -t');
if (check.exitCode !== 0) throw new Error(`nginx rejected the new config:\n${check.stderr}`);
// Reload gracefully: the master starts new workers and the old ones finish their requests.
const reload = await nginx.runProcess('nginx -s reload');
if (reload.exitCode !== 0) throw new Error(`reload failed:\n${reload.stderr}`);
// The reload is asynchronous: wait until the new config answers.
await nginx.waitHttp200({ path: '/index.html' });
let after = await look();
for (let i = 0; i < 50 && !after.includes('tfnz'); i++) {
  await new Promise((r) => setTimeout(r, 100));
  after = await look();
}
console.log(`after: ${after}`);

if (process.argv.includes('--serve')) {
  console.log(`serving ${url} until Ctrl-C`);
  await loc.run();
} else {
  await loc.disconnect();
}
