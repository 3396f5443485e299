/**
 * `picompute requeue ID --failed`: run again only the tasks of an ended job
 * that did not succeed (GNU parallel's --resume-failed), under the same id
 * (Slurm's `scontrol requeue`); `picompute result ID` then waits for the
 * whole result.
 */
import type { Command } from 'commander';
import { withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { UsageError } from '../errors.js';
import { withClient } from './queue.js';

export function registerRequeue(program: Command): void {
  withConnectFlags(
    program
      .command('requeue')
      .description(
        'run again the tasks of a failed or cancelled job that did not succeed, keeping the outputs of those that did, under the same id ' +
          '(like scontrol requeue)',
      )
      .argument('<id>', 'job id')
      .option('--failed', 'only the tasks that did not succeed (failed, cancelled, never ran); required'),
  ).action(
    withClient(async (client, id: string, flags: ConnectFlags & { failed?: boolean }) => {
      if (!flags.failed) throw new UsageError(`requeue runs again only the tasks that did not succeed: say so with picompute requeue ${id} --failed`);
      const { summary } = await client.requeueFailed(id);
      if (flags.json) return void console.log(JSON.stringify(summary));
      const again = summary.tasksTotal - summary.tasksDone;
      console.log(
        `job ${id} requeued: ${again} of ${summary.tasksTotal} tasks run again, ${summary.tasksDone} outputs kept; picompute result ${id} waits ` +
          'for the whole result',
      );
    }),
  );
}
