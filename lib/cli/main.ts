#!/usr/bin/env node
/** The `tfnz` command. */
import { Command } from 'commander';
import { runCommand } from './run-command';
import { uploadCommand } from './upload-command';
import { pullCommand } from './pull-command';
import { logsCommand } from './logs-command';
import { join } from 'node:path';
import { accountsDir, allLocations, defaultLocation, ensureAccount } from '../client/accounts';
import { authorize } from '../server/authorized-users';
import { LIMITS, formatLimit } from '../server/limits';
import { importOptional } from '../shared/optional-dependency';

/** The location server and its engines load only for the commands that run them (dockerode is optional). */
const serverSide = <T>(load: () => Promise<T>, command: string) => importOptional(load, ['dockerode', 'tar-stream'], command);

const collect = (value: string, all: string[]) => [...all, value];

const program = new Command('tfnz')
  .description('Program-driven containers: run a location, or a container on one')
  .showHelpAfterError()
  .enablePositionalOptions();

const location = program
  .command('location')
  .description('run a location server in front of one or more Docker Engines')
  .option('--listen <host:port>', 'where clients connect', '127.0.0.1:2020')
  .option('--name <name>', 'the location name, carried in engine labels', 'local')
  .option('--engine <address>', 'a Docker Engine to use as a node (repeatable): unix:///path, tcp://host:port or https://host:port (TLS)', collect, [])
  .option('--engines-file <file>', 'more engines, one "ADDRESS [NAME]" a line; followed while running (SIGHUP re-reads)')
  .option('--stats-interval <ms>', 'how often node stats are sampled', '5000')
  .option('--authorized-keys <file>', 'admit only the users whose public keys are in FILE (default ~/.tfnz/authorized_keys)')
  .option('--open', 'admit anyone who can connect (no accounts): only where nobody else can reach the port')
  .option('--domain <domain>', 'a domain the web front door serves; sites are published at names in it (repeatable; default localhost)', collect, [])
  .option('--http-port <port>', 'the web front door\'s HTTP port (0: any free one)', '80')
  .option('--https-port <port>', 'the web front door\'s HTTPS port (0: any free one)', '443')
  .option('--web-host <host>', 'interface the web front door listens on (default: the --listen host)')
  .option('--cache-dir <dir>', 'where uploaded image layers are kept (default ~/.tfnz/location-cache/NAME)')
  .option('--tls-cert <file>', 'serve wss:// with this certificate (PEM; default: a self-signed one made on first start, kept in the cache dir)')
  .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
  .option('--tls', 'serve wss:// also on a loopback --listen address (the default elsewhere)')
  .option('--no-tls', 'serve plain ws:// (only on a loopback --listen address, where it is the default; the SDK refuses ws:// elsewhere)')
  .option('-q, --quiet', 'no log lines')
  .option('--log-bytes <bytes>', 'output kept per container for ctr.logs() and tfnz logs (default 1048576)')
  .option('--log-lines <lines>', 'lines kept per container (default 10000); the oldest go first past either bound')
  .option('--allow-privileged', 'let sessions spawn privileged containers (full access to this machine)');
// One flag per limit (see the README's table), e.g. --container-memory-bytes 4G.
for (const limit of LIMITS) location.option(`--${limit.flag} <value>`, `${limit.what} (default ${formatLimit(limit, limit.default)})`);
location
  .action(async (opts) => (await serverSide(() => import('./location-command'), 'tfnz location')).locationCommand(opts))
  // `tfnz location prune --name N` must give --name to prune, not to location.
  .enablePositionalOptions();
location
  .command('prune')
  .description('remove cached image layers no image uses (and abandoned uploads); running containers are not affected')
  .option('--name <name>', 'the location name, for its default cache directory', 'local')
  .option('--cache-dir <dir>', 'the cache directory (default ~/.tfnz/location-cache/NAME)')
  .option('--all', 'remove every cached image description too, so everything goes')
  .action(async (opts) => (await serverSide(() => import('./prune-command'), 'tfnz location prune')).pruneCommand(opts));

program
  .command('upload')
  .description("upload images from the local Docker Engine to the location's cache (only missing layers), with progress")
  .argument('<image...>')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('-q, --quiet', 'no progress')
  .action((images: string[], opts) => uploadCommand(images, opts));

// #19
program
  .command('pull')
  .description('have a node pull images from their registry (credentials from your Docker config), with progress; prints each with its full name')
  .argument('<image...>')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('--node <id>', 'the node that pulls (default the one with the most spare capacity)')
  .option('--always', 'pull even when the node has the image (to follow a moved tag)')
  .option('-q, --quiet', 'no progress')
  .action((images: string[], opts) => pullCommand(images, opts));

const account = program.command('account').description('accounts on this machine, one per location');
account
  .command('create')
  .description('make a key pair for LOCATION and print the public key its operator must authorise')
  .argument('<location>', 'host[:port] as you pass it to --location')
  .action((location: string) => {
    const created = ensureAccount(location);
    process.stdout.write(`${created.publicKey} ${location}\n`);
    process.stderr.write(`account for ${location} in ${accountsDir()} (user ${created.userId}); ask the location's operator to run: tfnz authorize ${created.publicKey}\n`);
  });
account
  .command('list')
  .description('the locations this machine holds an account for')
  .action(() => {
    process.stdout.write(allLocations().map((l) => `${l}${l === defaultLocation() ? '  <== default' : ''}\n`).join(''));
  });

program
  .command('authorize')
  .description("let a user's public key open sessions on the locations that read FILE")
  .argument('<key>', 'the key `tfnz account create` printed')
  .option('--authorized-keys <file>', 'the file the location reads', join(accountsDir(), 'authorized_keys'))
  .action((key: string, opts: { authorizedKeys: string }) => {
    authorize(opts.authorizedKeys, key);
    process.stderr.write(`authorised in ${opts.authorizedKeys}\n`);
  });

program
  .command('run')
  .description('spawn a container from IMAGE, show its output, end when it ends (Ctrl-C ends it too)')
  .argument('<image>')
  .argument('[command...]', 'replaces the image entrypoint and command')
  .option('-p, --port <local:remote>', 'tunnel a local port to a container port (repeatable)', collect, [])
  .option('-e, --env <NAME=value>', 'environment variable; NAME alone copies it from here (repeatable)', collect, [])
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('-w, --web <fqdn[:rewrite]>', 'publish the container\'s port 80 at this host name on the location\'s front door (repeatable)', collect, [])
  .option('--ssl <cert.pem,key.pem>', 'serve the --web names over HTTPS with this certificate and key')
  .option('--ssh <port>', 'an SSH/SFTP server into the container on 127.0.0.1:PORT (0: any free port); any user name, your own keys (tfnz accounts, ~/.ssh/id_*.pub, ~/.ssh/authorized_keys)')
  .option('-s', 'the same as --ssh 2222')
  .option('-z, --sleep', 'boot asleep (placeholder main process)')
  .option('-q, --quiet', 'no log lines')
  .option('-v, --verbose', 'log every frame')
  // #16
  .option('--tag <tag>', 'a tag, so other sessions (tfnz logs TAG) can find it')
  .option('--memory <size>', 'memory limit, e.g. 512m or 1g (no swap beyond it)')
  .option('--cpus <n>', 'CPU limit in cores, e.g. 1.5')
  .option('-u, --user <user[:group]>', 'user (name or uid, optionally :group) the main process runs as')
  .option('--workdir <dir>', 'working directory of the main process (-w is --web)')
  .option('--entrypoint <program>', 'replaces the image entrypoint; [command...] are its arguments')
  .option('-l, --label <key=value>', 'a label on the engine container (repeatable)', collect, [])
  .option('--wait-log <text>', 'ready (tunnels, --web, --ssh) only once a line of output contains TEXT')
  .option('--health-cmd <command>', 'a health check run through sh; ready only once it passes')
  // #19
  .option('--pull <policy>', "when the node pulls the image from its registry: missing (default), always or never")
  // As `docker run`: everything after the image is the container's command, its options included.
  .passThroughOptions()
  .action((image: string, command: string[], opts) => runCommand(image, command, opts));

program
  .command('logs')
  .description('print the output of a tagged container of yours that another session runs (tfnz run --tag)')
  .argument('<container>', 'its uuid, tag or uuid:tag')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION')
  .option('-n, --tail <lines>', "only the last LINES lines ('all' for everything)")
  .option('--since <time>', 'only lines from this time on: a duration ago (30s, 10m, 2h) or a date')
  .option('-f, --follow', 'keep printing new lines until the container ends (or Ctrl-C)')
  .option('-t, --timestamps', 'put each line\'s time first')
  .action((key: string, opts) => logsCommand(key, opts));

program
  .command('dashboard')
  .description('a live web view of the location as you see it: nodes with cpu/memory charts, your containers with status and output, web endpoints')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('--listen <host:port>', 'where the page is served: loopback only (a bare port means 127.0.0.1:PORT; 0: any free port)', '127.0.0.1:0')
  .addHelpText('after', `
Prints the page's URL on stdout; it carries a random token, so only whoever has it can look.
Containers of your other sessions show once tagged (tfnz run --tag NAME ...).

Example:
  $ tfnz run --location tfnz.example.com --tag web nginx     # in one terminal
  $ tfnz dashboard --location tfnz.example.com --listen 8080  # in another
  http://127.0.0.1:8080/?token=...                           # open it in a browser`)
  .action(async (opts) => (await import('./dashboard-command')).dashboardCommand(opts));

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`tfnz: ${err.message}\n`);
  process.exit(1);
});
