/**
 * The two kinds of task of a keyed job, as the worker runs them: a map whose
 * `ctx.emit` fills an EmitBuffer (its output is the manifest of the runs it
 * left on disk), and a reduce that merges its partition's runs and calls
 * `reduceByKey` once per key, in key order, writing each [key, value] as it
 * comes to the part file on this agent's disk (./part-file.ts; its output is
 * the note of where the part is). No part is ever whole in memory, so a part
 * has no size limit but the disk's.
 */
import { join } from 'node:path';
import { format } from 'node:util';
import type { EmitContext, Job, Key, KeyedJob, ReduceContext, TaskContext } from '@picompute/sdk';
import { isKeyedJob } from '@picompute/sdk';
import type { Batch, BatchTask } from '../batch.js';
import { EmitBuffer } from './emit-buffer.js';
import type { Manifest } from './emit-buffer.js';
import { showKey } from './keys.js';
import { mergeGroups } from './merge.js';
import { openPart } from './part-file.js';
import type { PartNote } from './part-file.js';
import { runChunks } from './run-file.js';

/** This agent's disk cannot take a task's files: the task fails DISK_FULL, and the coordinator runs it on another node. */
export class DiskFullError extends Error {}

/** A map spills at a quarter of its memory limit (the rest is the map's own, and the sort's), at most this. */
const MAX_SPILL_BYTES = 64 * 1024 * 1024;

/**
 * Bytes a reduce reads of each run at a time: a sixteenth of its memory
 * limit over all its runs (a chunk read, the part of the next one, and its
 * records decoded take several times the chunk), between 16 KiB and 256 KiB.
 * With more runs than that floor allows (thousands, at 64 MiB), Hadoop would
 * merge in several passes; this reads them all at once.
 */
export function mergeChunkBytes(memoryMb: number, runs: number): number {
  const share = Math.floor((memoryMb * 1024 * 1024) / 16 / Math.max(1, runs));
  return Math.max(16 * 1024, Math.min(256 * 1024, share));
}

function keyedJob(job: Job, kind: string): KeyedJob<unknown, Key, unknown, unknown> {
  if (!isKeyedJob(job)) throw new Error(`a ${kind} task was sent for a job without reduceByKey`);
  return job;
}

export async function keyedMap(job: Job, batch: Batch, task: BatchTask, input: unknown, ctx: TaskContext): Promise<Manifest> {
  const keyed = keyedJob(job, 'keyed map');
  const buffer = new EmitBuffer({
    dir: join(batch.shuffleDir!, batch.jobId),
    prefix: `m${task.index}-a${task.attempt}`,
    partitions: batch.partitions!,
    partition: keyed.partition,
    combine: keyed.combine,
    limitBytes: batch.spillBytes || Math.min(MAX_SPILL_BYTES, (batch.memoryMb * 1024 * 1024) / 4),
  });
  const emitting: EmitContext = { ...ctx, emit: (key: Key, value: unknown) => buffer.emit(key, value) };
  try {
    await keyed.map(input, emitting);
    return buffer.finish();
  } catch (err) {
    buffer.discard();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new DiskFullError(
        `no space left on this agent's disk for the map's sorted runs (${batch.shuffleDir}): free space there, or give the agent another \`cacheDir\``,
      );
    }
    throw err;
  }
}

export async function keyedReduce(job: Job, batch: Batch, task: BatchTask, logs: string[], shared: unknown): Promise<PartNote> {
  const keyed = keyedJob(job, 'keyed reduce');
  const ctx: ReduceContext = {
    partition: task.partition!,
    attempt: task.attempt,
    args: batch.args,
    log: (...parts: unknown[]) => logs.push(format(...parts)),
    shared,
  };
  const part = openPart(join(batch.shuffleDir!, batch.jobId), task.partition!, task.attempt);
  try {
    const runs = task.runs ?? [];
    const chunk = mergeChunkBytes(batch.memoryMb, runs.length);
    for await (const groups of mergeGroups(runs.map((fd) => runChunks(fd, chunk)))) {
      for (const [key, values] of groups) {
        let reduced: unknown;
        try {
          reduced = keyed.reduceByKey(key, values, ctx);
          // Awaited only when it is a promise: an await per key costs more than a sort's whole reduce.
          if (typeof (reduced as { then?: unknown } | null)?.then === 'function') reduced = await reduced;
        } catch (err) {
          if (err instanceof Error) {
            err.message = `reduceByKey threw for key ${showKey(key)} (partition ${task.partition}, ${values.length} values): ${err.message}`;
            throw err;
          }
          throw new Error(`reduceByKey threw for key ${showKey(key)} (partition ${task.partition}): ${format(err)}`);
        }
        part.add(key, reduced);
      }
    }
    return part.finish();
  } catch (err) {
    part.abort();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new Error(
        `no space left on this agent's disk for the reduce's part file (${batch.shuffleDir}): free space there, or give the agent another \`cacheDir\``,
      );
    }
    throw err;
  }
}
