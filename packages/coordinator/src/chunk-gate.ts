/**
 * Starts a file-input job's maps (or those of a job whose big inputs(args) values go as chunks) as their chunks arrive. A job whose inputs
 * are chunk references (@picompute/sdk/chunk-ref) is accepted before its
 * chunks are sent: its tasks whose chunk is in the store are runnable at
 * once, the others are held in its pending queue and released as each
 * chunk lands. Every chunk a live job references is pinned in the store
 * (kept whatever its cap) until the job ends.
 *
 * A job held for chunks that stop coming (its client died mid-upload, or
 * a coordinator restart cut the upload) fails after `waitMs` without one,
 * naming the first chunk missing, instead of waiting forever.
 */
import { chunkPlace, decodeChunkRef } from '@picompute/sdk/chunk-ref';
import { formatDuration } from '@picompute/sdk/units';
import type { ChunkStore } from './chunk-store.js';
import type { JobRecord } from './jobs/job-record.js';

interface Gated {
  job: JobRecord;
  /** Every chunk the job references, pinned. */
  hashes: Set<string>;
  /** The tasks each missing chunk holds back, and where the first of them comes from (chunkPlace). */
  waiting: Map<string, { tasks: number[]; place: string }>;
  /** When the job last saw a chunk of its own arrive (or was attached). */
  progressAt: number;
}

export class ChunkGate {
  readonly #jobs = new Map<string, Gated>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly chunks: ChunkStore | undefined,
    /** Tasks became runnable. */
    private readonly kick: () => void,
    /** A job waited `waitMs` for chunks that never came: fail it with this message. */
    private readonly starved: (job: JobRecord, message: string) => void,
    private readonly waitMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (chunks) chunks.onArrived = (hash) => this.#arrived(hash);
    this.#timer = setInterval(() => this.checkStarved(), Math.min(waitMs, 30_000)).unref();
  }

  /** Pins a new (or recovered, or requeued) job's chunks and holds back the tasks whose chunk is not here yet. */
  attach(job: JobRecord): void {
    if (!job.request.chunkInputs || !this.chunks || job.final) return;
    const gated: Gated = { job, hashes: new Set(), waiting: new Map(), progressAt: this.now() };
    for (let i = 0; i < job.total; i++) {
      const ref = decodeChunkRef(job.inputs.get(i));
      if (!ref) continue;
      gated.hashes.add(ref.hash);
      if (this.chunks.has(ref.hash) || job.done[i] === 1) continue;
      let w = gated.waiting.get(ref.hash);
      if (!w) gated.waiting.set(ref.hash, (w = { tasks: [], place: chunkPlace(ref) }));
      w.tasks.push(i);
    }
    for (const h of gated.hashes) this.chunks.pin(h);
    this.detach(job);
    this.#jobs.set(job.id, gated);
    for (const w of gated.waiting.values()) job.pending.hold(w.tasks);
  }

  /** The job ended: its chunks are no longer pinned by it. */
  detach(job: JobRecord): void {
    const gated = this.#jobs.get(job.id);
    if (!gated) return;
    this.#jobs.delete(job.id);
    for (const h of gated.hashes) this.chunks!.unpin(h);
  }

  /** Tasks held for chunks, all jobs together. */
  get held(): number {
    let n = 0;
    for (const g of this.#jobs.values()) for (const w of g.waiting.values()) n += w.tasks.length;
    return n;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #arrived(hash: string): void {
    let released = false;
    for (const g of this.#jobs.values()) {
      const w = g.waiting.get(hash);
      if (!w) continue;
      g.waiting.delete(hash);
      g.progressAt = this.now();
      for (const i of w.tasks) g.job.pending.release(i);
      released = true;
    }
    if (released) this.kick();
  }

  /** Fails the jobs that waited `waitMs` for a chunk of theirs (run by a timer). */
  checkStarved(): void {
    const before = this.now() - this.waitMs;
    for (const g of [...this.#jobs.values()]) {
      if (!g.waiting.size || g.progressAt > before || g.job.final) continue;
      const [hash, first] = g.waiting.entries().next().value!;
      this.starved(
        g.job,
        `${g.waiting.size} of this job's input chunks never arrived (the first: ${first.place}, sha256 ${hash.slice(0, 12)}…), ` +
          `none in ${formatDuration(this.waitMs)}: the client that submitted it stopped sending (it exited, or the coordinator restarted); submit it again`,
      );
    }
  }
}
