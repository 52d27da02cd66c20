#!/usr/bin/env node
/** The `tfnz` command. */
import { Command } from 'commander';
import { locationCommand } from './location-command';
import { runCommand } from './run-command';

const collect = (value: string, all: string[]) => [...all, value];

const program = new Command('tfnz')
  .description('Program-driven containers: run a location, or a container on one')
  .showHelpAfterError();

program
  .command('location')
  .description('run a location server in front of one or more Docker Engines')
  .option('--listen <host:port>', 'where clients connect', '127.0.0.1:2020')
  .option('--name <name>', 'the location name, carried in engine labels', 'local')
  .option('--engine <address>', 'a Docker Engine to use as a node (repeatable): unix:///path or tcp://host:port', collect, [])
  .option('--stats-interval <ms>', 'how often node stats are sampled', '5000')
  .option('-q, --quiet', 'no log lines')
  .action((opts) => locationCommand(opts));

program
  .command('run')
  .description('spawn a container from IMAGE, show its output, end when it ends (Ctrl-C ends it too)')
  .argument('<image>')
  .argument('[command...]', 'replaces the image entrypoint and command')
  .option('-p, --port <local:remote>', 'tunnel a local port to a container port (repeatable)', collect, [])
  .option('-e, --env <NAME=value>', 'environment variable; NAME alone copies it from here (repeatable)', collect, [])
  .option('--location <location>', 'host[:port] of the location; default $TFNZ_LOCATION, else an embedded one')
  .option('-z, --sleep', 'boot asleep (placeholder main process)')
  .option('-q, --quiet', 'no log lines')
  .option('-v, --verbose', 'log every frame')
  .action((image: string, command: string[], opts) => runCommand(image, command, opts));

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`tfnz: ${err.message}\n`);
  process.exit(1);
});
