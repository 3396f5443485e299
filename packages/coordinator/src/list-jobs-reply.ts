/**
 * The ListJobs reply, encoded here rather than by the generic codec, so a
 * queued job's summary is encoded once: until it starts, it changes only
 * with its reason, priority or error (or, for a requeued job, nothing else
 * moves either), and its bytes are kept while those stay the same. With
 * 10,000 queued jobs, encoding the same summaries on every `queue` was most
 * of the coordinator's time for the call (benchmarks/queued-jobs.mjs).
 * Bytes are the same as the codec's: a repeated message field is its
 * entries each framed as field 1, in order, and the shares follow.
 */
import { Encoded, wireEncoder } from '@picompute/sdk/wire';
import type { JobSummary, UserShare } from '@picompute/sdk/wire';

/** Field 1 (jobs), length-delimited: the tag, then the length as a varint. */
function framed(length: number): Uint8Array {
  const head = [0x0a];
  for (; length > 0x7f; length >>>= 7) head.push((length & 0x7f) | 0x80);
  head.push(length);
  return Uint8Array.from(head);
}

/** What a summary can still change by, for a job that has not started; undefined for one whose summary moves with time. */
function stableKey(s: JobSummary): string | undefined {
  if (s.state !== 'PENDING' || s.startedAtMs || s.tasksRunning || s.tasksQueued) return undefined;
  return `${s.reason}\0${s.priority}\0${s.error}\0${s.tasksDone}\0${s.attempts}\0${s.cores}`;
}

export class ListJobsReplyEncoder {
  readonly #summary = wireEncoder('JobSummary');
  readonly #reply = wireEncoder('ListJobsReply');
  /** By job id, the queued jobs of the last reply (so those that started or ended since are dropped with the next). */
  #kept = new Map<string, { key: string; bytes: Uint8Array }>();

  encode(jobs: readonly JobSummary[], shares: readonly UserShare[]): Encoded {
    const kept = new Map<string, { key: string; bytes: Uint8Array }>();
    const parts: Uint8Array[] = [];
    for (const s of jobs) {
      const key = stableKey(s);
      const had = key === undefined ? undefined : this.#kept.get(s.jobId);
      const bytes = had && had.key === key ? had.bytes : this.#summary(s);
      if (key !== undefined) kept.set(s.jobId, { key, bytes });
      parts.push(framed(bytes.length), bytes);
    }
    this.#kept = kept;
    parts.push(this.#reply({ jobs: [], shares }));
    return new Encoded(Buffer.concat(parts));
  }
}
