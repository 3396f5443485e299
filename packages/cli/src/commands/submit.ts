/** `picompute submit job.ts`: bundle, submit, show progress, print the result. */
import { inspect } from 'node:util';
import type { Command } from 'commander';
import type { SecurityFlags } from '@picompute/sdk/auth';
import type { JobEvent } from '@picompute/sdk/wire';
import { parseTimeLimit } from '@picompute/sdk/time-limit';
import { parseSize } from '@picompute/sdk/units';
import { action, collect, EXIT_JOB_FAILED, EXIT_OK, parseArgs, parseCount, parseInteger, UsageError } from '../errors.js';
import { connectOrLocal } from '../connect-flags.js';
import { withSecurityFlags } from '../security-flags.js';
import { toJsonValue } from '../json.js';
import { flagsIn } from '../option-flags.js';
import { Progress } from '../progress.js';
import { parseBytes } from '@picompute/sdk/file-inputs';
import type { JobHandle } from '@picompute/sdk/client';
import { printPairs, writeParts, writePartsEarly } from './keyed-output.js';

interface SubmitFlags extends SecurityFlags {
  arg: string[];
  wait: boolean;
  coresPerTask?: string;
  retries?: string;
  priority?: string;
  constraint?: string;
  dependency?: string;
  maxRunning?: string;
  local?: boolean;
  coordinator?: string;
  timeLimit?: string;
  memPerTask?: string;
  name?: string;
  json?: boolean;
  stream?: boolean;
  verbose?: boolean;
  maxInputs?: string;
  maxInputBytes?: string;
  input: string[];
  splitSize?: string;
  partitions?: string;
  out?: string;
  maxNodeLosses?: string;
  /** false with --no-backups. */
  backups?: boolean;
}

export function registerSubmit(program: Command): void {
  withSecurityFlags(
    program
      .command('submit')
      .description('run a job file on the cluster (or on an embedded local cluster when no coordinator is given) and print its result')
      .argument(
        '<job>',
        'job file (TypeScript or JavaScript) whose default export comes from defineJob; a relative path is taken from where you ran the command ' +
          '(INIT_CWD under pnpm)',
      )
      .option('--arg <key=value>', 'argument for inputs(args) and finalize(acc, args); repeatable', collect, [])
      .option(
        '-c, --coordinator <host:port>',
        'coordinator to submit to (default: PICOMPUTE_COORDINATOR, else one found by mDNS, else the embedded local cluster)',
      )
      .option('--local', 'run on the embedded local cluster without looking for a coordinator')
      .option(
        '-t, --time-limit <duration>',
        "per-task wall-clock limit: 30s, 5m, or as sbatch -t reads it: 90 (minutes), MM:SS, 1:00:00, 2-00:00:00 (default: the coordinator's " +
          '--default-time-limit, 1h unless set; at most its --max-time-limit)',
      )
      .option('--mem-per-task <size>', "per-task heap limit, e.g. 512M (default: the agent's share per core)")
      .option('--name <name>', "job name shown in queues (default: the job's own name or file name)")
      .option('--cores-per-task <n>', 'cores each task holds while it runs (default 1)')
      .option('--retries <n>', 'run a task that throws again up to n times (default 0)')
      .option('--priority <n>', 'higher runs first among your own jobs (default 0)')
      .option('--constraint <label>', 'only nodes with this label (a&b: all of them, a|b: any; agents label themselves arch=… and model=…, e.g. model=pi5)')
      .option('--dependency <afterok:ID>', 'start after job ID completes; cancelled if it does not')
      .option('--max-running <n>', "at most n of the job's tasks run at once, cluster-wide (like Slurm's --array=…%n; default: no cap)")
      .option('--max-inputs <n>', 'stop before submitting when inputs(args) yields more than n inputs (default 10000000)')
      .option('--max-input-bytes <size>', 'stop before submitting when the encoded inputs exceed size, e.g. 8G (default 4G)')
      .option(
        '--input <path>',
        'map inputs from files: a file, a folder (walked recursively) or a glob; each map gets a chunk { path, offset, data } ending at a line break; repeatable',
        collect,
        [],
      )
      .option('--split-size <size>', 'bytes per input chunk, e.g. 16M (the default) or 256K; 0 = one chunk per file')
      .option('--partitions <n>', "a keyed job's reduce tasks and part files (default: the job's partitions, else 2 per core of the cluster)")
      .option('--out <dir>', "write a keyed job's result as DIR/part-00000… (key TAB value a line); returns once every part is complete")
      .option('--max-node-losses <n>', 'times a task may be lost with its node before the job ends NODE_FAIL (default 3)')
      .option('--no-backups', "no backup copies of straggling tasks on other nodes (the job's speculation: false)")
      .option('--no-wait', 'queue the job, print its id and return (like sbatch)')
      .option('--json', 'print one JSON object: jobId, state, result or error, stats')
      .option('--stream', 'print one JSON line per task output as it finishes, {"index":N,"value":…} (a fold job’s result last, {"result":…})')
      .option('-v, --verbose', 'show the embedded cluster’s daemon logs'),
  ).action(action(submit));
}

function parseDependency(text: string): string {
  if (!/^afterok:\d+$/.test(text)) throw new UsageError(`--dependency "${text}" is not afterok:JOBID (for example afterok:12)`);
  return text;
}

async function submit(file: string, flags: SubmitFlags): Promise<number> {
  const started = performance.now();
  if (flags.stream && !flags.wait) throw new UsageError('--stream prints outputs as they finish, so it cannot go with --no-wait');
  const { prepareJob } = await import('@picompute/sdk/prepare');
  // Bundling runs in esbuild's own process: load the network stack meanwhile.
  const { userPath } = await import('@picompute/sdk/env');
  // Under `pnpm picompute` the working directory is the clone: resolve where the user typed the command.
  const preparing = prepareJob(userPath(file), {
    args: parseArgs(flags.arg),
    timeLimit: flags.timeLimit === undefined ? undefined : parseTimeLimit(flags.timeLimit, '--time-limit'),
    memPerTask: flags.memPerTask === undefined ? undefined : parseSize(flags.memPerTask, '--mem-per-task'),
    name: flags.name,
    coresPerTask: flags.coresPerTask === undefined ? undefined : parseCount(flags.coresPerTask, '--cores-per-task'),
    retries: flags.retries === undefined ? undefined : parseCount(flags.retries, '--retries', 0),
    priority: flags.priority === undefined ? undefined : parseInteger(flags.priority, '--priority'),
    constraint: flags.constraint,
    dependency: flags.dependency === undefined ? undefined : parseDependency(flags.dependency),
    maxRunning: flags.maxRunning === undefined ? undefined : parseCount(flags.maxRunning, '--max-running'),
    maxInputs: flags.maxInputs === undefined ? undefined : parseCount(flags.maxInputs, '--max-inputs'),
    maxInputBytes: flags.maxInputBytes === undefined ? undefined : parseSize(flags.maxInputBytes, '--max-input-bytes') * 1024 * 1024,
    input: flags.input.length ? flags.input.map((p) => userPath(p)) : undefined,
    splitSize: flags.splitSize === undefined ? undefined : parseBytes(flags.splitSize, '--split-size'),
    partitions: flags.partitions === undefined ? undefined : parseCount(flags.partitions, '--partitions'),
    maxNodeLosses: flags.maxNodeLosses === undefined ? undefined : parseCount(flags.maxNodeLosses, '--max-node-losses'),
    speculation: flags.backups === false ? false : undefined,
  });
  preparing.catch(() => {});
  await import('@picompute/sdk/client');
  const prepared = await preparing;
  const preparedMs = performance.now() - started;
  if (flags.out !== undefined && !prepared.request.keyed) {
    throw new UsageError(`--out writes the parts of a keyed job (one with reduceByKey), and ${file} has none: its result is printed`);
  }
  if (prepared.request.keyed && flags.stream) {
    throw new UsageError(
      `--stream prints map outputs as they finish, and ${file} is a keyed job (reduceByKey): its result comes at the end, by key (use --out DIR for files)`,
    );
  }

  const say = (line: string) => flags.json || process.stderr.write(`${line}\n`);
  const target = await connectOrLocal(flags, say, !flags.wait);
  const client = target.client;
  try {
    const job = await client.submitPrepared(prepared);
    const submittedMs = performance.now() - started;
    if (!flags.wait) {
      // Input chunks go up after the submit: this process must stay until they are all sent.
      await job.uploaded;
      console.log(flags.json ? JSON.stringify({ jobId: job.id, state: 'PENDING' }) : `Submitted job ${job.id}`);
      return EXIT_OK;
    }
    // Loaded only here: it imports the client, which every other verb loads lazily.
    if (flags.stream) return await (await import('./stream-outputs.js')).streamOutputs(job, prepared.request.hasReduce);
    // --out of a keyed job: parts are written as they are reduced, beside the progress (see writePartsEarly).
    const early = flags.out !== undefined && prepared.request.keyed ? (await startEarlyParts(job, flags.out)).writing : undefined;
    const progress = flags.json ? undefined : new Progress();
    let final: JobEvent | undefined;
    for await (const ev of job.events()) {
      progress?.update(ev, job.upload);
      final = ev;
    }
    progress?.end();
    const wallMs = performance.now() - started;
    const stats = {
      tasks: final!.tasksTotal,
      cores: final!.cores,
      nodes: final!.nodes,
      retries: final!.retries,
      wallMs: Math.round(wallMs),
      jobWallMs: Math.round(final!.wallMs),
      // Where the client's time went before the job's own wall began: bundling and running inputs(args), then
      // connecting, sending the inputs (a remote coordinator receives inputs(args)'s values before the submit) and the submit.
      prepareMs: Math.round(preparedMs),
      submitMs: Math.round(submittedMs - preparedMs),
    };
    if (final!.state !== 'COMPLETED') {
      // Cancelled because its input could not be sent: say that, not "cancelled".
      if (job.upload?.error) final!.error = ((await job.uploaded.catch((err: Error) => err)) as Error).message;
      await early?.catch(() => {});
      if (flags.json) console.log(JSON.stringify({ jobId: job.id, state: final!.state, error: flagsIn(final!.error), stats }));
      else process.stderr.write(`job ${job.id} ${final!.state}: ${flagsIn(final!.error)}\n`);
      return EXIT_JOB_FAILED;
    }
    if (prepared.request.keyed) return await keyedResult(job, flags, stats, wallMs, early);
    const result = await job.result();
    if (flags.json) {
      console.log(JSON.stringify({ jobId: job.id, state: final!.state, result: toJsonValue(result), stats }));
    } else {
      console.log(typeof result === 'string' ? result : inspect(result, { depth: 6, colors: process.stdout.isTTY, maxArrayLength: 100 }));
      const rate = (stats.tasks / wallMs) * 1000;
      process.stderr.write(
        `job ${job.id} completed: ${stats.tasks} tasks on ${stats.cores} cores in ${(wallMs / 1000).toFixed(2)} s (${rate.toFixed(1)} tasks/s)\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await target.close();
  }
}

/** Wrapped: an async function cannot hand back a promise unawaited. */
async function startEarlyParts(job: JobHandle, out: string): Promise<{ writing: Promise<{ parts: number; keys: number }> }> {
  const { userPath } = await import('@picompute/sdk/env');
  const writing = writePartsEarly(job, userPath(out));
  writing.catch(() => {});
  return { writing };
}

async function keyedResult(
  job: JobHandle,
  flags: SubmitFlags,
  stats: { tasks: number; cores: number },
  wallMs: number,
  early?: Promise<{ parts: number; keys: number }>,
): Promise<number> {
  const took = `${stats.tasks} tasks on ${stats.cores} cores in ${(wallMs / 1000).toFixed(2)} s`;
  if (flags.out !== undefined) {
    const { userPath } = await import('@picompute/sdk/env');
    // A part read early may have failed (its agent lost mid-stream, the part reduced again elsewhere): the job completed, so read them all again.
    const written = (await early?.catch(() => undefined)) ?? (await writeParts(job, userPath(flags.out)));
    if (flags.json) console.log(JSON.stringify({ jobId: job.id, state: 'COMPLETED', out: flags.out, ...written, stats }));
    else process.stderr.write(`job ${job.id} completed: ${took}; ${written.keys} keys in ${written.parts} parts under ${flags.out}\n`);
    return EXIT_OK;
  }
  if (flags.json) {
    console.log(JSON.stringify({ jobId: job.id, state: 'COMPLETED', result: toJsonValue(await job.result()), stats }));
    return EXIT_OK;
  }
  if (!(await printPairs(job, (line) => process.stderr.write(`${line}\n`)))) return EXIT_JOB_FAILED;
  process.stderr.write(`job ${job.id} completed: ${took}\n`);
  return EXIT_OK;
}
