/**
 * The verbs a Slurm user knows: queue (squeue), jobs (sacct), cancel
 * (scancel), result, logs, drain and resume (scontrol update). Each prints a
 * table, or JSON with --json.
 */
import { inspect } from 'node:util';
import type { Command } from 'commander';
import { FINAL_STATES } from '@picompute/sdk/wire';
import type { JobSummary } from '@picompute/sdk/wire';
import { formatDuration } from '@picompute/sdk/units';
import { connectFrom, withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { action, EXIT_JOB_FAILED, EXIT_OK } from '../errors.js';
import { toJsonValue } from '../json.js';
import { flagsIn } from '../option-flags.js';
import { table } from '../table.js';
import { printPartialResult } from './partial-result.js';
import type { JobHandle } from '@picompute/sdk/client';

/** Runs `fn` with a connected client and closes it. */
export function withClient<A extends unknown[]>(fn: (client: import('@picompute/sdk/client').Client, ...args: A) => Promise<number | void>) {
  return (...args: A) =>
    action(async () => {
      const client = await connectFrom(args.at(-2) as ConnectFlags);
      try {
        return await fn(client, ...args);
      } finally {
        client.close();
      }
    })();
}

const elapsed = (j: JobSummary) => (j.startedAtMs ? formatDuration(j.wallMs) : '-');
const stateWithReason = (j: JobSummary) => (j.reason ? `${j.state}(${j.reason})` : j.state);
const exitCode = (state: string) => (state === 'COMPLETED' ? 0 : FINAL_STATES.has(state) ? 1 : '-');
/** Tasks on a core, and those sent ahead to agents that wait there for one. */
const onCores = (j: JobSummary) => `${j.tasksRunning}${j.tasksQueued ? ` +${j.tasksQueued} queued` : ''}`;

export function registerQueueVerbs(program: Command): void {
  withConnectFlags(program.command('queue').description('pending and running jobs, and each user’s share of the cores (like squeue)')).action(
    withClient(async (client, flags: ConnectFlags) => {
      const { jobs, shares } = await client.jobs({ active: true });
      if (flags.json) return void console.log(JSON.stringify({ jobs, shares }));
      console.log(
        table(
          ['JOBID', 'NAME', 'USER', 'STATE(REASON)', 'PRIO', 'TASKS', 'RUNNING', 'ELAPSED', 'NODES'],
          jobs.map((j) => [
            j.jobId,
            j.name,
            j.user,
            stateWithReason(j),
            j.priority,
            `${j.tasksDone}/${j.tasksTotal}`,
            onCores(j),
            elapsed(j),
            j.nodes.join(',') || '-',
          ]),
        ),
      );
      if (shares.length)
        console.log(`\nshares: ${shares.map((s) => `${s.user} ${Math.round(s.share * 100)}% (${s.coresInUse} cores, ${s.jobs} jobs)`).join(' · ')}`);
    }),
  );

  withConnectFlags(
    program
      .command('jobs')
      .description('jobs, running and finished: state, exit, elapsed (so far, for a running one), CPU time, tasks, attempts, max task heap (like sacct)'),
  ).action(
    withClient(async (client, flags: ConnectFlags) => {
      // Running jobs too, as sacct shows them: a user looking for the job just submitted should find it here.
      const { jobs } = await client.jobs();
      if (flags.json) return void console.log(JSON.stringify(jobs));
      console.log(
        table(
          ['JOBID', 'NAME', 'USER', 'STATE', 'EXIT', 'ELAPSED', 'CPUTIME', 'TASKS', 'ATTEMPTS', 'MAXHEAP'],
          jobs.map((j) => [
            j.jobId,
            j.name,
            j.user,
            stateWithReason(j),
            exitCode(j.state),
            elapsed(j),
            formatDuration(j.cpuMs),
            `${j.tasksDone}/${j.tasksTotal}`,
            j.backups ? `${j.attempts} (${j.backups} backups, ${j.backupsWon} won)` : j.attempts,
            `${j.maxHeapMb.toFixed(1)}M`,
          ]),
        ),
      );
    }),
  );

  withConnectFlags(program.command('cancel').description('cancel jobs (like scancel)').argument('<ids...>', 'job ids')).action(
    withClient(async (client, ids: string[], flags: ConnectFlags) => {
      const states = [];
      for (const id of ids) states.push({ jobId: id, state: await client.job(id).cancel() });
      if (flags.json) console.log(JSON.stringify(states));
      else for (const s of states) console.log(`job ${s.jobId} ${s.state}`);
    }),
  );

  withConnectFlags(
    program
      .command('result')
      .description('print a finished job’s stored result')
      .argument('<id>', 'job id')
      .option(
        '--partial',
        'of a job that ended without completing: the outputs of the tasks that finished, by index, and the missing indices (exit 1 if any is missing)',
      )
      .option('--out <dir>', "a keyed job's result written as DIR/part-00000… (key TAB value a line), each file complete once it exists"),
  ).action(
    withClient(async (client, id: string, flags: ConnectFlags & { partial?: boolean; out?: string }) => {
      const job = client.job(id);
      if (flags.partial) return printPartialResult(job, Boolean(flags.json));
      if (flags.out !== undefined) return writeResultParts(job, flags.out);
      const final = await job.done();
      if (final.state !== 'COMPLETED') {
        process.stderr.write(`job ${id} ${final.state}${final.error ? `: ${flagsIn(final.error)}` : ''}\n`);
        return EXIT_JOB_FAILED;
      }
      const result = await job.result();
      console.log(flags.json ? JSON.stringify(toJsonValue(result)) : typeof result === 'string' ? result : inspect(result, { depth: 6, maxArrayLength: 100 }));
      return EXIT_OK;
    }),
  );

  withConnectFlags(
    program.command('logs').description('lines a job’s tasks logged (ctx.log and console.*), with task index and node').argument('<id>', 'job id'),
  ).action(
    withClient(async (client, id: string, flags: ConnectFlags) => {
      const lines = await client.logs(id);
      if (flags.json) return void console.log(JSON.stringify(lines));
      for (const l of lines) console.log(`[task ${l.task < 0 ? 'reduce' : l.task} @ ${l.node}] ${l.line}`);
    }),
  );

  for (const [verb, drain] of [
    ['drain', true],
    ['resume', false],
  ] as const) {
    withConnectFlags(
      program
        .command(verb)
        .description(drain ? 'stop placing new tasks on a node; running ones finish (like scontrol update state=drain)' : 'place tasks on a drained node again')
        .argument('<node>', 'node id, host name or address'),
    ).action(
      withClient(async (client, node: string, flags: ConnectFlags) => {
        const status = await client.drain(node, drain);
        console.log(flags.json ? JSON.stringify(status) : `node ${status.info.id} ${status.state}`);
      }),
    );
  }
}

async function writeResultParts(job: JobHandle, out: string): Promise<number> {
  const final = await job.done();
  if (final.state !== 'COMPLETED') {
    process.stderr.write(`job ${job.id} ${final.state}${final.error ? `: ${final.error}` : ''}\n`);
    return EXIT_JOB_FAILED;
  }
  const { userPath } = await import('@picompute/sdk/env');
  const { writeParts } = await import('./keyed-output.js');
  const written = await writeParts(job, userPath(out));
  process.stderr.write(`job ${job.id}: ${written.keys} keys in ${written.parts} parts under ${out}\n`);
  return EXIT_OK;
}
