/**
 * The job API: what a user's `job.ts` default-exports.
 *
 * This module is bundled into every job file, so it must stay tiny and import
 * nothing: no gRPC, no esbuild, no Node built-ins.
 */

/** The `--arg key=value` strings given at submit time. */
export type JobArgs = Readonly<Record<string, string>>;

/** What a map task sees besides its input. */
export interface TaskContext {
  /** Position of this task's input in the job's input list (0-based). */
  readonly index: number;
  /** 1 on the first run; higher when the task runs again after a lost node or a retry. */
  readonly attempt: number;
  /** Aborted when the task passes its time limit or the job is cancelled. */
  readonly signal: AbortSignal;
  /** The job's `--arg` values. */
  readonly args: JobArgs;
  /** A line that reaches the submitter (and `picompute logs`), tagged with the task index. */
  log(...parts: unknown[]): void;
  /**
   * The value `shared(args)` returned at submit time (undefined without
   * `shared`): sent once to each node, not copied into every input.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  // biome-ignore lint/suspicious/noExplicitAny: the job's own `shared(args)` value, whatever the user made it; typed by the job, not here
  readonly shared: any;
}

type MaybePromise<T> = T | Promise<T>;
type InputSource<I> = Iterable<I> | AsyncIterable<I>;

interface JobBase<I, O> {
  /** Shown in queues and logs; defaults to the job file's name. */
  name?: string;
  /** Runs once at submit time on the submitting machine. */
  inputs: (args: JobArgs) => MaybePromise<InputSource<I>>;
  /** Runs on agents in worker threads, once per input. */
  map: (input: I, ctx: TaskContext) => MaybePromise<O>;
  /**
   * Runs once at submit time: data every task needs (a lookup table, a
   * model), sent once to each node and cached there by its hash, read in
   * tasks as `ctx.shared` (Dask's scatter). At most 64 MiB encoded.
   */
  shared?: (args: JobArgs) => unknown;
}

/** A job whose result is the array of map outputs, in input order. */
export interface CollectJob<I, O> extends JobBase<I, O> {
  reduce?: undefined;
  /** Not without `reduce`: such a job is refused at submit (post-process the returned array instead). */
  finalize?: undefined;
}

/**
 * A job whose map outputs are folded into one value, in input order:
 * `finalize(reduce(...reduce(reduce(initial, out0), out1)...), args)`.
 *
 * The contract (as for a Dask fold or a Spark reduce): `reduce` is
 * associative and `initial` is its identity, so a map output and an
 * accumulator are values of the same kind. picompute relies on it: large
 * jobs fold groups of consecutive outputs while other tasks still run, then
 * fold the group results (order is kept, so `reduce` need not commute).
 * `initial` is copied for every fold, so `reduce` may mutate `acc`.
 */
export interface FoldJob<I, O, A, R = A> extends JobBase<I, O> {
  reduce: (acc: A, value: O) => MaybePromise<A>;
  initial: A;
  finalize?: (acc: A, args: JobArgs) => MaybePromise<R>;
}

export type JobDefinition<I = unknown, O = unknown, A = unknown, R = unknown> = CollectJob<I, O> | FoldJob<I, O, A, R>;

/** Marks objects made by `defineJob`; a registry symbol, so it survives bundling a second copy of the SDK. */
export const JOB_BRAND: unique symbol = Symbol.for('picompute.job') as never;

/** Any job, whatever its value types (the worker and client see values only as codec bytes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: any job at all, whatever its input, output and accumulator types
export type AnyJobDefinition = JobDefinition<any, any, any, any>;

export type Job<D extends AnyJobDefinition = AnyJobDefinition> = D & { readonly [JOB_BRAND]: true };

export function defineJob<I, O>(definition: CollectJob<I, O>): Job<CollectJob<I, O>>;
export function defineJob<I, O, A, R = A>(definition: FoldJob<I, O, A, R>): Job<FoldJob<I, O, A, R>>;
export function defineJob(definition: AnyJobDefinition): Job {
  return Object.freeze({ ...definition, [JOB_BRAND]: true as const });
}

export function isJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_BRAND] === true;
}

export function isFoldJob(job: AnyJobDefinition): job is FoldJob<unknown, unknown, unknown, unknown> {
  return typeof job.reduce === 'function';
}

/**
 * Why a module's default export cannot run as a job, or undefined if it can.
 * Used by the client before anything is submitted, and by the agent worker.
 */
export function jobProblem(exported: unknown): string | undefined {
  if (exported === undefined) return 'it has no default export: end it with `export default defineJob({ ... })`';
  if (!isJob(exported)) return 'its default export was not made by defineJob: `export default defineJob({ inputs, map })`';
  if (typeof exported.map !== 'function') return 'its job has no `map` function: defineJob({ inputs, map: (input, ctx) => ... })';
  if (typeof exported.inputs !== 'function') return 'its job has no `inputs` function: defineJob({ inputs: (args) => [...], map })';
  if (exported.shared !== undefined && typeof exported.shared !== 'function') return '`shared` must be a function (args) => value, run once at submit time';
  if (exported.reduce !== undefined && typeof exported.reduce !== 'function') return '`reduce` must be a function (acc, value) => acc';
  if (isFoldJob(exported) && !('initial' in exported)) return 'a job with `reduce` needs an `initial` value';
  // Refused rather than run on the collected array: finalize(acc, args) is defined on what reduce folds, and ignoring it silently hid the mistake.
  if (!isFoldJob(exported) && exported.finalize !== undefined) {
    return (
      '`finalize` runs on the value `reduce` folds, and this job has no `reduce`: add `reduce` and `initial`, or drop `finalize` and post-process ' +
      'the array the job returns'
    );
  }
  return undefined;
}
