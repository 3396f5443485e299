/**
 * A keyed reduce's output: its part, written as the reduce goes to this
 * agent's disk, in the job's folder, as `part-P-aA` (partition P, attempt A:
 * a backup and the task it backs up never share a file), under a temporary
 * name until whole (@picompute/sdk/run-format's RunWriter), so a reduce that
 * died leaves no part. The task's output is only the note of where the part
 * is (PartNote, JSON); the client reads the part itself through the
 * coordinator's GetPart, which streams it from here with FetchRun.
 *
 * Parts outlive their job's runs (the client reads them after the job
 * ended): see ShuffleRuns.removeJob.
 */
import { join } from 'node:path';
import type { Key } from '@picompute/sdk';
import { RunWriter } from '@picompute/sdk/run-format';

export const PART_FILE = /^part-\d+-a\d+$/;

/** Where a part is, as the reduce task reports it. */
export interface PartNote {
  /** The file's name in the job's folder on the reducing agent (a run id FetchRun serves). */
  part: string;
  bytes: number;
  keys: number;
}

export function openPart(jobDir: string, partition: number, attempt: number) {
  const name = `part-${partition}-a${attempt}`;
  const out = new RunWriter(join(jobDir, name));
  return {
    add(key: Key, value: unknown): void {
      out.addOne(key, value);
    },
    finish(): PartNote {
      const bytes = out.close();
      return { part: name, bytes, keys: out.records };
    },
    abort(): void {
      out.abort();
    },
  };
}
