#!/usr/bin/env node
/** The `cleave` command: runs a local cluster, a pilot or a node, and talks to a running cluster. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UsageError } from '../common/errors.js';
import { registerBenchCommands } from './bench-commands.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerLocalCommand } from './local-command.js';
import { registerNodeCommand, registerPilotCommand } from './role-commands.js';
import { registerSplitCommands } from './split-commands.js';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('cleave')
  .description('A sharded key-value store that speaks the Redis Cluster protocol')
  .version(version)
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(`${text.split('\n')[0]}\n`) });

registerLocalCommand(program);
registerPilotCommand(program);
registerNodeCommand(program);
registerAdminCommands(program);
registerSplitCommands(program);
registerBenchCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with code 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`cleave: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
