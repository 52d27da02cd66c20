#!/usr/bin/env node
/** The `tfnz` command. */
import { Command } from 'commander';
import { runCommand } from './run-command';
import { exitCodeFor } from './terminal';
import { uploadCommand } from './upload-command';
import { pullCommand } from './pull-command';
import { logsCommand } from './logs-command';
import { buildCommand } from './build-command';
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
  .option('--swarm <address>', 'take the nodes from a Docker Swarm: a manager\'s engine address (https://host:2376?certs=DIR); containers join its attachable overlay')
  .option('--swarm-network <name>', 'the swarm\'s attachable overlay network for containers', 'tfnz')
  .option('--stats-interval <ms>', 'how often node stats are sampled', '5000')
  .option('--authorized-keys <file>', 'admit only the users whose public keys are in FILE (default ~/.tfnz/authorized_keys)')
  .option('--open', 'admit anyone who can connect (no accounts): only where nobody else can reach the port')
  .option('--domain <domain>', 'a domain the web front door serves; sites are published at names in it (repeatable; default localhost)', collect, [])
  .option('--http-port <port>', 'the web front door\'s HTTP port (0: any free one)', '80')
  .option('--https-port <port>', 'the web front door\'s HTTPS port (0: any free one)', '443')
  .option('--web-host <host>', 'interface the web front door listens on (default: the --listen host)')
  .option('--door-workers <n>', 'processes proxying the front door\'s plain HTTP, as nginx\'s workers (default 0: the location\'s own process; auto: one per core but one)')
  .option('--cache-dir <dir>', 'where uploaded image layers are kept (default ~/.tfnz/location-cache/NAME)')
  .option('--tls-cert <file>', 'serve wss:// with this certificate (PEM; default: a self-signed one made on first start, kept in the cache dir)')
  .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
  .option('--tls', 'serve wss:// also on a loopback --listen address (the default elsewhere)')
  .option('--no-tls', 'serve plain ws:// (only on a loopback --listen address, where it is the default; the SDK refuses ws:// elsewhere)')
  .option('-q, --quiet', 'no log lines')
  .option('--log-bytes <bytes>', 'output kept per container for ctr.logs() and tfnz logs (default 1048576)')
  .option('--log-lines <lines>', 'lines kept per container (default 10000); the oldest go first past either bound')
  .option('--allow-privileged', 'let sessions spawn privileged containers (full access to this machine)')
  .option('--engine-logs <driver>', "what engines keep of containers' output: none (default; the location keeps it), json-file or local (rotated, 20 MiB per container), engine (the engine's default)");
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
  // #20
  .option('-f, --file <src:dest>', 'write local file SRC into the container at DEST before it boots (repeatable)', collect, [])
  .option('-m, --mount <volume:/path>', 'mount a volume (its tag, uuid or uuid:tag) at /path (repeatable)', collect, [])
  .option('--create', 'make a missing -m volume, tagged with the name given')
  .option('-i, --interactive', 'keep stdin open: the command reads this terminal (or pipe) until it ends')
  .option('-t, --tty', 'give the command a terminal (pty) that follows this one\'s size; with no command, a shell')
  .option('-d, --detach', 'leave it running without this command (until tfnz rm) and print its uuid; needs a location of its own (--location)')
  // As `docker run`: everything after the image is the container's command, its options included.
  .passThroughOptions()
  .addHelpText('after', `
Examples:
  tfnz run busybox echo hello                         everything after the image is the command
  tfnz run -it busybox                                a shell in a fresh container
  tfnz run -p 8080:80 -f ./site.conf:/etc/nginx/conf.d/default.conf nginx
  tfnz run -d --tag web --location host:2020 nginx    leave it running; then tfnz logs web, tfnz rm -f web
  tfnz run -m data:/data --create busybox sh -c 'date >> /data/log'`)
  .action((image: string, command: string[], opts) => runCommand(image, command, opts));

program
  .command('logs')
  .description('print the output of a container of yours that another session runs (tfnz run --tag, tfnz run -d)')
  .argument('<container>', 'its uuid, tag or uuid:tag')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION')
  .option('-n, --tail <lines>', "only the last LINES lines ('all' for everything)")
  .option('--since <time>', 'only lines from this time on: a duration ago (30s, 10m, 2h) or a date')
  .option('-f, --follow', 'keep printing new lines until the container ends (or Ctrl-C)')
  .option('-t, --timestamps', 'put each line\'s time first')
  .addHelpText('after', `
Examples:
  tfnz logs web                 all kept output of the container tagged web
  tfnz logs -f --tail 10 web    the last 10 lines, then every new one until it ends`)
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

program
  .command('build')
  .description('build a Dockerfile on a node of the location (the context is DIR less its .dockerignore); the image is yours there as NAME')
  .argument('<dir>', 'the build context')
  .requiredOption('-t, --tag <name>', 'the name to spawn the image by, e.g. team/app:1')
  .option('-f, --file <Dockerfile>', 'the Dockerfile (default DIR/Dockerfile)')
  .option('--build-arg <NAME=value>', 'a value for an ARG; NAME alone copies it from here (repeatable)', collect, [])
  .option('--target <stage>', 'build up to this stage')
  .option('--node <id>', 'the node to build on (default: the one with most spare capacity)')
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('-q, --quiet', 'no progress; only the image id')
  .action((dir: string, opts) => buildCommand(dir, opts));

// #20: the rest of a Docker user's habits, against the configured location (--location, $TFNZ_LOCATION).
const LOCATION_HELP = 'host[:port] of the location; default $TFNZ_LOCATION';
const ID_HELP = 'a container of yours: its uuid (or a unique start of it), tag or uuid:tag';

program
  .command('ps')
  .description('list your containers across all of your sessions at the location (never another user\'s)')
  .option('--location <location>', LOCATION_HELP)
  .option('-a, --all', 'also the ones whose main process ended')
  .option('-q, --quiet', 'only their uuids')
  .option('--json', 'a JSON array, for scripts')
  .addHelpText('after', `
Examples:
  tfnz ps -a
  tfnz rm -f $(tfnz ps -q)      remove every container of yours`)
  .action(async (opts) => (await import('./ps-command')).psCommand(opts));

program
  .command('exec')
  .description('run a command in a running container of yours, whichever session holds it; its exit code is tfnz\'s')
  .argument('<container>', ID_HELP)
  .argument('<command...>', 'the command and its arguments')
  .option('--location <location>', LOCATION_HELP)
  .option('-i, --interactive', 'feed it this program\'s stdin')
  .option('-t, --tty', 'give it a terminal (pty) that follows this one\'s size')
  .option('-u, --user <user[:group]>', 'user (name or uid, optionally :group) to run as')
  .option('-w, --workdir <dir>', 'its working directory')
  .option('-e, --env <NAME=value>', 'an environment variable (repeatable)', collect, [])
  .passThroughOptions()
  .addHelpText('after', `
Examples:
  tfnz exec -it web sh          a shell in the container tagged web
  tfnz exec web cat /etc/hostname`)
  .action(async (key: string, command: string[], opts) => (await import('./exec-command')).execCommand(key, command, opts));

program
  .command('cp')
  .description('copy one regular file between here and a container of yours (one side is ID:/path)')
  .argument('<src>', 'a local file, or ID:/path in a container')
  .argument('<dest>', 'a local file or folder, or ID:/path (ending in / for a folder)')
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', `
Examples:
  tfnz cp ./index.html web:/usr/share/nginx/html/
  tfnz cp web:/etc/nginx/nginx.conf .`)
  .action(async (src: string, dest: string, opts) => (await import('./cp-command')).cpCommand(src, dest, opts));

program
  .command('stop')
  .description('stop containers of yours: their main process is killed at once (SIGKILL); they stay, exited, until tfnz rm')
  .argument('<container...>', ID_HELP)
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', '\nExample:\n  tfnz stop web && tfnz logs web')
  .action(async (keys: string[], opts) => (await import('./stop-command')).stopCommand(keys, opts));

program
  .command('rm')
  .description('remove containers of yours, whichever session holds them (a running one only with -f)')
  .argument('<container...>', ID_HELP)
  .option('--location <location>', LOCATION_HELP)
  .option('-f, --force', 'also a running one')
  .addHelpText('after', '\nExample:\n  tfnz rm -f web')
  .action(async (keys: string[], opts) => (await import('./rm-command')).rmCommand(keys, opts));

const volume = program.command('volume').description('your persistent volumes at the location (named by uuid, tag or uuid:tag)');
volume
  .command('ls')
  .description('list your volumes')
  .option('--location <location>', LOCATION_HELP)
  .option('-q, --quiet', 'only their uuids')
  .option('--json', 'a JSON array, for scripts')
  .addHelpText('after', '\nExample:\n  tfnz volume ls --json')
  .action(async (opts) => (await import('./volume-command')).volumeLs(opts));
volume
  .command('create')
  .description('make a volume (tagged TAG if given) and print its uuid:tag')
  .argument('[tag]', 'a tag, unique among your volumes')
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', '\nExample:\n  tfnz volume create data && tfnz run -m data:/data busybox ls /data')
  .action(async (tag: string | undefined, opts) => (await import('./volume-command')).volumeCreate(tag, opts));
volume
  .command('rm')
  .description('destroy volumes and their data (not while a container mounts one)')
  .argument('<volume...>')
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', '\nExample:\n  tfnz volume rm data')
  .action(async (keys: string[], opts) => (await import('./volume-command')).volumeRm(keys, opts));
volume
  .command('snapshot')
  .description('keep a copy of the volume as it is now (replacing the last one); no running container may mount it')
  .argument('<volume>')
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', '\nExample:\n  tfnz volume snapshot data')
  .action(async (key: string, opts) => (await import('./volume-command')).volumeSnapshot(key, opts));
volume
  .command('rollback')
  .description('return the volume to its last snapshot (or to empty); no container may mount it')
  .argument('<volume>')
  .option('--location <location>', LOCATION_HELP)
  .addHelpText('after', '\nExample:\n  tfnz volume rollback data')
  .action(async (key: string, opts) => (await import('./volume-command')).volumeRollback(key, opts));

program
  .command('node')
  .description('the location\'s nodes')
  .command('ls')
  .description('list the nodes, best first, with their idle cpu, free memory and paging as last sampled')
  .option('--location <location>', LOCATION_HELP)
  .option('-q, --quiet', 'only their ids')
  .option('--json', 'a JSON array, for scripts')
  .addHelpText('after', '\nExample:\n  tfnz node ls')
  .action(async (opts) => (await import('./node-command')).nodeLs(opts));

program
  .command('endpoint')
  .description('the location\'s web front door')
  .command('ls')
  .description('list the domains it serves (tfnz run -w NAME publishes at a name in one) and its ports')
  .option('--location <location>', LOCATION_HELP)
  .option('--json', 'a JSON array, for scripts')
  .addHelpText('after', '\nExample:\n  tfnz endpoint ls')
  .action(async (opts) => (await import('./endpoint-command')).endpointLs(opts));

// #20: an example in every command's --help (kept here, apart from the commands' definitions).
const examples: [Command | undefined, string][] = [
  [location, 'tfnz location --listen 0.0.0.0:2020 --domain example.com'],
  [program.commands.find((c) => c.name() === 'upload'), 'tfnz upload myapp:1.2 --location myserver'],
  [program.commands.find((c) => c.name() === 'authorize'), 'tfnz authorize "$(cut -d\' \' -f1 alice.pub)"   # alice.pub: the line her tfnz account create printed'],
  [account.commands.find((c) => c.name() === 'create'), 'tfnz account create myserver:2020'],
  [account.commands.find((c) => c.name() === 'list'), 'tfnz account list'],
  [location.commands.find((c) => c.name() === 'prune'), 'tfnz location prune --name local'],
];
for (const [command, example] of examples) command?.addHelpText('after', `\nExample:\n  ${example}`);

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`tfnz: ${err.message}\n`);
  process.exit(exitCodeFor(err)); // as docker: 125 the tool's own error, 126/127 a command that cannot run / is not there
});
