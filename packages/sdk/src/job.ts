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
  /**
   * Runs once at submit time on the submitting machine. Optional when the job
   * is submitted with input files (`input`): each map input is then a FileChunk.
   */
  inputs?: (args: JobArgs) => MaybePromise<InputSource<I>>;
  /** Runs on agents in worker threads, once per input. */
  map: (input: I, ctx: TaskContext) => MaybePromise<O>;
  /**
   * Runs once at submit time: data every task needs (a lookup table, a
   * model), sent once to each node and cached there by its hash, read in
   * tasks as `ctx.shared` (Dask's scatter). At most 64 MiB encoded.
   */
  shared?: (args: JobArgs) => unknown;
  /**
   * `false`: no backup copies of straggling tasks (Hadoop's speculative
   * execution): for a job whose tasks have side effects outside their
   * result, or to measure a cluster without them. Default true; the
   * `speculation` submit option overrides it.
   */
  speculation?: boolean;
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

/** A key of a keyed job: reducers see keys in ascending order (numbers numerically, strings as JavaScript compares them; numbers first). */
export type Key = string | number;

/** One map input of a job submitted with `--input` (option `input`): a chunk of a file, ending at a line break. */
export interface FileChunk {
  /** The file's path relative to the `--input` root it was found under (its name, for a file named directly). */
  readonly path: string;
  /** Where the chunk starts in the file, bytes. */
  readonly offset: number;
  readonly data: Buffer;
}

/** What `map` sees in a keyed job: a TaskContext that can emit key-value pairs. */
export interface EmitContext<K extends Key = Key, V = unknown> extends TaskContext {
  /** Sends `value` to the reducer of `key`'s partition; any number of times per input. */
  emit(key: K, value: V): void;
}

/** What `reduceByKey` sees besides the key and its values. */
export interface ReduceContext {
  /** The partition this reducer owns (0-based). */
  readonly partition: number;
  readonly attempt: number;
  readonly args: JobArgs;
  log(...parts: unknown[]): void;
  // biome-ignore lint/suspicious/noExplicitAny: the job's own `shared(args)` value, whatever the user made it; typed by the job, not here
  readonly shared: any;
}

/**
 * A keyed map/reduce (Google's MapReduce): `map` emits key-value pairs with
 * `ctx.emit`; they are partitioned (`partition`, default a stable hash of the
 * key mod `partitions`), sorted by key on the mapping agent's disk
 * (`combine` folding each key's values there), fetched by the reducers from
 * their peers and merged, and `reduceByKey` runs once per key with all its
 * values. The result is the [key, reduced value] pairs of each partition in
 * key order.
 */
export interface KeyedJob<I = FileChunk, K extends Key = Key, V = unknown, R = unknown> {
  name?: string;
  /** Optional when the job is submitted with input files (`--input`): each map input is then a FileChunk. */
  inputs?: (args: JobArgs) => MaybePromise<InputSource<I>>;
  map: (input: I, ctx: EmitContext<K, V>) => MaybePromise<unknown>;
  /**
   * Folds some of a key's values into one on the mapper, as they gather and
   * when its buffer spills (synchronously: it runs inside ctx.emit); must
   * give what reduceByKey accepts as one of the values. Like Hadoop's
   * combiner it may run any number of times on a key, its own earlier
   * results among the values.
   */
  combine?: (key: K, values: V[]) => V;
  reduceByKey: (key: K, values: V[], ctx: ReduceContext) => MaybePromise<R>;
  /** R, the number of reduce tasks (and part files); default 2 × the cluster's cores (`--partitions` overrides). */
  partitions?: number;
  /** Which reducer gets `key`: an integer from 0 to partitions - 1. */
  partition?: (key: K, partitions: number) => number;
  shared?: (args: JobArgs) => unknown;
  /** `false`: no backup copies of straggling tasks (see JobBase). */
  speculation?: boolean;
  reduce?: undefined;
  initial?: undefined;
  finalize?: undefined;
}

export type JobDefinition<I = unknown, O = unknown, A = unknown, R = unknown> = CollectJob<I, O> | FoldJob<I, O, A, R> | KeyedJob<I, Key, O, R>;

/** Marks objects made by `defineJob`; a registry symbol, so it survives bundling a second copy of the SDK. */
export const JOB_BRAND: unique symbol = Symbol.for('picompute.job') as never;

/** Any job, whatever its value types (the worker and client see values only as codec bytes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: any job at all, whatever its input, output and accumulator types
export type AnyJobDefinition = JobDefinition<any, any, any, any> | KeyedJob<any, any, any, any>;

export type Job<D extends AnyJobDefinition = AnyJobDefinition> = D & { readonly [JOB_BRAND]: true };

export function defineJob<I = FileChunk, K extends Key = Key, V = unknown, R = unknown>(definition: KeyedJob<I, K, V, R>): Job<KeyedJob<I, K, V, R>>;
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

export function isKeyedJob(job: AnyJobDefinition): job is KeyedJob<unknown, Key, unknown, unknown> {
  return typeof (job as { reduceByKey?: unknown }).reduceByKey === 'function';
}

/** Why a keyed job's own settings cannot work, or undefined. */
function keyedProblem(job: Record<string, unknown>): string | undefined {
  if (job.reduceByKey !== undefined && typeof job.reduceByKey !== 'function') return '`reduceByKey` must be a function (key, values, ctx) => value';
  if (job.reduceByKey === undefined) {
    for (const name of ['combine', 'partition', 'partitions'])
      if (job[name] !== undefined) return `\`${name}\` belongs to a keyed job, and this job has no \`reduceByKey\`: add reduceByKey(key, values, ctx)`;
    return undefined;
  }
  if (job.reduce !== undefined) {
    return 'the job defines both `reduce` (a fold of map outputs into one value) and `reduceByKey` (a keyed reduce of what map emits): keep one';
  }
  if (job.combine !== undefined && typeof job.combine !== 'function') return '`combine` must be a function (key, values) => value';
  if (job.partition !== undefined && typeof job.partition !== 'function') return '`partition` must be a function (key, partitions) => number';
  const r = job.partitions;
  if (r !== undefined && !(typeof r === 'number' && Number.isInteger(r) && r >= 1 && r <= 100_000)) {
    return `\`partitions\` must be a whole number from 1 to 100000, not ${typeof r === 'string' ? JSON.stringify(r) : String(r)}`;
  }
  return undefined;
}

/**
 * Why a module's default export cannot run as a job, or undefined if it can.
 * Used by the client before anything is submitted, and by the agent worker.
 */
export function jobProblem(exported: unknown): string | undefined {
  if (exported === undefined) return 'it has no default export: end it with `export default defineJob({ ... })`';
  if (!isJob(exported)) return 'its default export was not made by defineJob: `export default defineJob({ inputs, map })`';
  if (typeof exported.map !== 'function') return 'its job has no `map` function: defineJob({ inputs, map: (input, ctx) => ... })';
  const keyed = keyedProblem(exported as unknown as Record<string, unknown>);
  if (keyed) return keyed;
  // Any job may leave its inputs to input files (each map input a chunk); whether it has either is checked at submit.
  if (exported.inputs !== undefined && typeof exported.inputs !== 'function') return '`inputs` must be a function (args) => [...inputs]';
  if (exported.shared !== undefined && typeof exported.shared !== 'function') return '`shared` must be a function (args) => value, run once at submit time';
  if (exported.reduce !== undefined && typeof exported.reduce !== 'function') return '`reduce` must be a function (acc, value) => acc';
  if (exported.speculation !== undefined && typeof exported.speculation !== 'boolean') return '`speculation` must be true or false';
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
