#!/usr/bin/env node
/**
 * The `picompute` command. Each verb loads only what it needs, so the
 * command starts fast and an agent never loads esbuild or the client.
 */
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { Command, type CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerCoordinators } from './commands/coordinators.js';
import { registerDaemons } from './commands/daemons.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerInit } from './commands/init.js';
import { registerJoin } from './commands/join.js';
import { registerNodes } from './commands/nodes.js';
import { registerQueueVerbs } from './commands/queue.js';
import { registerSubmit } from './commands/submit.js';
import { registerRequeue } from './commands/requeue.js';
import { registerTasks } from './commands/tasks.js';
import { EXIT_OK, EXIT_USAGE } from './errors.js';

// Everything the command and its daemons create (state DB, WAL, caches, keys) is this user's alone.
process.umask(0o077);

// A reader that goes away (`picompute jobs | head -1`) is not an error: stop quietly, as `cat` does.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(EXIT_OK);
});

const program = new Command('picompute')
  .description('batch map/reduce jobs on a cluster of small Linux machines')
  .version(PICOMPUTE_VERSION)
  .showHelpAfterError('(run picompute help for usage)')
  .exitOverride((err: CommanderError) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  });

registerInit(program);
registerSubmit(program);
registerDaemons(program);
registerNodes(program);
registerCoordinators(program);
registerQueueVerbs(program);
registerTasks(program);
registerRequeue(program);
registerBench(program);
registerDashboard(program);
registerJoin(program);

await program.parseAsync(process.argv);
