/** `picompute tasks ID`: each map task of a job, as `squeue -s` / `scontrol show job` show a job array's steps. */
import type { Command } from 'commander';
import { formatDuration } from '@picompute/sdk/units';
import type { TaskStatus } from '@picompute/sdk/wire';
import { withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { table } from '../table.js';
import { withClient } from './queue.js';

/** Local wall-clock time of day, as squeue's START column (the date is in `picompute jobs`). */
const clock = (ms: number) => (ms ? new Date(ms).toLocaleTimeString('en-GB', { hour12: false }) : '-');

function row(t: TaskStatus): (string | number)[] {
  const ran = t.attempt > 0;
  return [
    t.index,
    t.state,
    t.node || '-',
    t.attempt,
    clock(t.startedAtMs),
    ran ? formatDuration(t.runMs) : '-',
    ran && t.heapMb ? `${t.heapMb.toFixed(1)}M` : '-',
  ];
}

export function registerTasks(program: Command): void {
  withConnectFlags(
    program
      .command('tasks')
      .description(
        'each task of a job: index, state, node, attempt, start, run time and heap of its last run (like squeue -s), then the backups of ' +
          'stragglers it ran and how many finished first; with --json, an array of objects (the backup counts are in `jobs --json`)',
      )
      .argument('<id>', 'job id'),
  ).action(
    withClient(async (client, id: string, flags: ConnectFlags) => {
      const tasks = await client.tasks(id);
      if (flags.json) return void console.log(JSON.stringify(tasks));
      console.log(table(['INDEX', 'STATE', 'NODE', 'ATTEMPT', 'START', 'RUNTIME', 'HEAP'], tasks.map(row)));
      const job = (await client.jobs()).jobs.find((j) => j.jobId === id);
      if (job?.backups) console.log(`\nbackups of stragglers: ${job.backups} run, ${job.backupsWon} won (finished before the copy they backed up)`);
    }),
  );
}
