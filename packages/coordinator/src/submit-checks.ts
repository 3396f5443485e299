/**
 * What a submit must pass before a job exists: a dependency on a job that
 * exists, a task shape some node could ever run (Slurm refuses at sbatch
 * too), and a time limit within this coordinator's maximum; its bundle,
 * inputs and shared value uploaded. Then its inputs are stored a slice per
 * event-loop turn.
 */
import { formatDuration } from '@picompute/sdk/units';
import type { SubmitRequest } from '@picompute/sdk/wire';
import type { BlobStore } from './blob-store.js';
import type { JobRecord } from './jobs/job-record.js';
import { JobInputs } from './job-inputs.js';
import { couldEverRun, matchesConstraint } from './scheduler/index.js';
import type { SharedBlobs } from './state/shared-blobs.js';
import type { StateStore } from './state/store.js';

/** Slurm's DefaultTime: the per-task time limit of a job that names none, so a task that never settles cannot hold a job forever. */
export const DEFAULT_TIME_LIMIT_MS = 3_600_000;

/** Time a submit may spend storing inputs per event-loop turn. */
const INPUT_SLICE_MS = 20;

/** Per-task time limits: `defaultMs` for a job that asks for none, and the most a job may ask for (0: no cap), like Slurm's MaxTime. */
export interface TimeLimits {
  defaultMs: number;
  maxMs: number;
}

/** A request the caller got wrong, said in words they can act on (INVALID_ARGUMENT, or NOT_FOUND). */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message);
  }
}

/** The job's per-task limit: what it asked for (refused over the maximum), else the default (capped by the maximum). */
export function timeLimit(requested: number, { defaultMs, maxMs }: TimeLimits): number {
  if (maxMs && requested > maxMs) {
    throw new UserError(
      `\`timeLimit\` ${formatDuration(requested)} is over this coordinator's maximum of ${formatDuration(maxMs)} (its \`maxTimeLimitMs\`): ask for ` +
        `${formatDuration(maxMs)} or less, or split the work into shorter tasks`,
    );
  }
  if (requested > 0) return requested;
  return maxMs ? Math.min(defaultMs, maxMs) : defaultMs;
}

/** Refuses what could never run, saying why. `known`: the nodes that ever proved the key (none known: anything may yet come). */
export function checkRequest(
  r: SubmitRequest,
  jobExists: (id: string) => boolean,
  known: readonly { id: string; cores: number; memoryMb: number; labels: readonly string[] }[],
): void {
  if (r.dependency) {
    const m = /^afterok:(\d+)$/.exec(r.dependency);
    if (!m) throw new UserError(`\`dependency\` "${r.dependency}" is not afterok:JOBID`);
    if (!jobExists(m[1]!)) throw new UserError(`\`dependency\` afterok:${m[1]}: no job with id ${m[1]}`);
  }
  const shape = { coresPerTask: Math.max(1, r.coresPerTask || 1), memoryMb: r.memoryMb, constraint: r.constraint || undefined };
  if (known.length && !known.some((n) => couldEverRun(n, shape))) {
    const biggest = known.reduce((a, b) => (b.cores > a.cores ? b : a));
    const wants = [`${shape.coresPerTask} cores`, r.memoryMb ? `${r.memoryMb} MiB` : '', shape.constraint ? `label "${shape.constraint}"` : '']
      .filter(Boolean)
      .join(', ');
    throw new UserError(
      `no node could ever run this job's tasks (each wants ${wants}); the largest node, ${biggest.id}, has ${biggest.cores} cores and ${biggest.memoryMb} MiB` +
        (shape.constraint
          ? `; nodes with that label: ${
              known
                .filter((n) => matchesConstraint(n.labels, shape.constraint))
                .map((n) => n.id)
                .join(', ') || 'none'
            }`
          : ''),
    );
  }
}

export interface AdmitContext {
  store: StateStore;
  blobs: BlobStore;
  shared: SharedBlobs;
  jobExists(id: string): boolean;
  nodes: readonly NodeShape[];
  timeLimits: TimeLimits;
}

type NodeShape = { id: string; cores: number; memoryMb: number; labels: readonly string[] };

/**
 * A submit, checked: its bundle, its inputs (taken from the uploads) and its
 * shared value (moved into the state database, where agents fetch it
 * from); the request as it is kept, without inputs and with its time limit.
 */
export function admit(request: SubmitRequest, c: AdmitContext): { request: SubmitRequest; inputs: JobInputs; bundle: Buffer } {
  if (c.store.disk.full) throw c.store.disk.refuse();
  const down = c.store.replica?.unavailable();
  if (down) throw down;
  const bundle = c.blobs.get(request.bundleHash) ?? c.store.bundle(request.bundleHash);
  if (!bundle) throw new UserError(`job bundle ${request.bundleHash.slice(0, 12)} was not uploaded; upload it with PutBlob first`);
  const packed = request.inputsHash ? c.blobs.take(request.inputsHash) : [request.inputs ?? Buffer.alloc(0)];
  if (!packed)
    throw new UserError(`job inputs ${request.inputsHash.slice(0, 20)} were not uploaded; upload them with PutBlob (under an upload:<random> name) first`);
  let inputs: JobInputs;
  try {
    inputs = JobInputs.unpack(packed);
  } catch (err) {
    throw new UserError(`job inputs cannot be read: ${(err as Error).message}`);
  }
  if (inputs.count !== request.taskCount) throw new UserError(`job inputs hold ${inputs.count} tasks, but the request says ${request.taskCount}`);
  checkRequest(request, c.jobExists, c.nodes);
  if (request.sharedHash) {
    const uploaded = c.blobs.get(request.sharedHash);
    if (uploaded) {
      c.shared.put(request.sharedHash, uploaded);
      c.blobs.delete(request.sharedHash);
    } else if (!c.store.bundle(request.sharedHash)) {
      throw new UserError(`the job's shared value ${request.sharedHash.slice(0, 12)} was not uploaded; upload it with PutBlob (named by its sha256) first`);
    }
  }
  // The inputs live in the tasks table from here on; the request keeps no copy.
  return { request: { ...request, inputs: Buffer.alloc(0), timeLimitMs: timeLimit(request.timeLimitMs, c.timeLimits) }, inputs, bundle };
}

/**
 * Writes a new job's inputs a slice per event-loop turn. Its tasks run
 * meanwhile (a restart before the last slice drops the job, whose client
 * was never answered); a job that ends first needs the rest no more. A
 * failed write (`failed`, then thrown) ends the job.
 */
export async function storeInputs(job: JobRecord, store: StateStore, closed: () => boolean, failed: (err: Error) => void): Promise<void> {
  let next = 0;
  while (next < job.total && !job.final && !closed()) {
    if (next > 0) await new Promise((r) => setImmediate(r));
    try {
      next = store.insertInputs(Number(job.id), job.inputs, next, INPUT_SLICE_MS);
    } catch (err) {
      if (!job.final) failed(err as Error);
      throw err;
    }
  }
}
