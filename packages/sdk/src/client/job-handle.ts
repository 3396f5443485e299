/**
 * A submitted job: its id, a live stream of progress events, and its result.
 */
import { CodecError, decode } from '../codec.js';
import { FINAL_STATES } from '../wire/messages.js';
import type { JobEvent, ResultChunk } from '../wire/messages.js';
import { openPart } from './job-parts.js';
import type { Part } from './job-parts.js';
import { ConnectError } from './rpc.js';
import type { UploadProgress } from './chunk-upload.js';
import type { CoordinatorRpc } from './rpc.js';

/** The job ended FAILED or CANCELLED; `event` is its last state. */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(readonly event: JobEvent) {
    super(event.error || `job ${event.jobId} ended ${event.state}`);
  }
}

/** See JobHandle.partialResult. */
export interface PartialResult<T = unknown> {
  /** The job's final state. */
  state: JobEvent['state'];
  /** Map outputs of the tasks that succeeded, by task index. */
  outputs: Map<number, T>;
  /** Indices of the tasks that did not succeed, ascending. */
  missing: number[];
}

/** A value from the cluster that does not decode is named, so a bad agent can be found. */
function decodeOutput(bytes: Buffer, what: string): unknown {
  try {
    return decode(bytes);
  } catch (err) {
    throw new CodecError(`${what} cannot be decoded (${(err as Error).message}); the agent that ran it may be faulty or run another Node.js version`);
  }
}

/** The event stream a submit opened, its first event already read. */
export interface SubmitStream {
  first: JobEvent;
  rest: AsyncIterator<JobEvent>;
  cancel(): void;
}

export class JobHandle {
  /** A job with input files: its chunks' upload, which goes on after the submit returned (see ./chunk-upload.ts). */
  upload: UploadProgress | undefined;
  /** Resolves when every input chunk is sent (at once without input files); rejects when the upload failed (the job is then cancelled). */
  uploaded: Promise<void> = Promise.resolve();
  #final: JobEvent | undefined;
  #submitted: SubmitStream | undefined;

  constructor(
    readonly id: string,
    private readonly rpc: CoordinatorRpc,
    submitted?: SubmitStream,
  ) {
    this.#submitted = submitted;
  }

  /**
   * Progress events until the job ends (the last one has a final state).
   * The first call goes on with the stream the submit opened (it stays open
   * until the job ends or the client closes, even if nobody reads it); later
   * calls open their own. The first event is the current state.
   */
  async *events(): AsyncGenerator<JobEvent> {
    let stream = this.#takeSubmitStream() ?? this.rpc.stream<{ jobId: string }, JobEvent>('watch', { jobId: this.id });
    for (;;) {
      let lost: unknown;
      try {
        for await (const ev of stream) {
          yield ev;
          if (FINAL_STATES.has(ev.state)) {
            this.#final = ev;
            return;
          }
        }
      } catch (err) {
        lost = err;
      } finally {
        stream.cancel();
      }
      if (lost === undefined) throw new Error(`the coordinator closed the event stream of job ${this.id} before it ended`);
      // Several coordinators: the leader went away, and the job goes on under the next one (its first event is the state then).
      if (!this.rpc.failover || !(lost instanceof ConnectError)) throw lost;
      await this.rpc.failover();
      stream = this.rpc.stream<{ jobId: string }, JobEvent>('watch', { jobId: this.id });
    }
  }

  #takeSubmitStream(): (AsyncIterable<JobEvent> & { cancel(): void }) | undefined {
    const s = this.#submitted;
    this.#submitted = undefined;
    if (!s) return undefined;
    return {
      cancel: s.cancel,
      async *[Symbol.asyncIterator]() {
        yield s.first;
        for (let next = await s.rest.next(); !next.done; next = await s.rest.next()) yield next.value;
      },
    };
  }

  /**
   * Each map output as its task finishes, in the order they finish (Dask's
   * `as_completed`, GNU parallel's `--results`): `for await (const { index,
   * value } of job.outputs())`. Outputs finished before the call come
   * first. Ends when the job does; throws JobFailedError after the last
   * output if the job did not complete. Opens its own Watch stream, so
   * `events()` and `result()` still work beside it.
   */
  async *outputs<T = unknown>(): AsyncGenerator<{ index: number; value: T }> {
    const stream = this.rpc.stream<{ jobId: string; outputs: boolean }, JobEvent>('watch', { jobId: this.id, outputs: true });
    try {
      for await (const ev of stream) {
        for (const o of ev.outputs ?? []) yield { index: o.index, value: decodeOutput(o.value, `task ${o.index}'s output`) as T };
        if (FINAL_STATES.has(ev.state)) {
          this.#final = ev;
          if (ev.state !== 'COMPLETED') throw new JobFailedError(ev);
          return;
        }
      }
    } finally {
      stream.cancel();
    }
    throw new Error(`the coordinator closed the output stream of job ${this.id} before it ended`);
  }

  /** Waits for the job to end and returns its last event, whatever the state. */
  async done(): Promise<JobEvent> {
    if (!this.#final) for await (const _ of this.events());
    return this.#final!;
  }

  /**
   * The job's result: the finalized fold, the array of map outputs in input
   * order, or for a keyed job (reduceByKey) its [key, value] pairs, partition
   * after partition, each in key order. Throws JobFailedError.
   */
  async result<T = unknown>(): Promise<T> {
    const values: unknown[] = [];
    let reduced = false;
    let keyed = false;
    let partition = 0;
    for await (const chunk of this.#resultChunks()) {
      reduced = chunk.reduced;
      keyed ||= chunk.keyed;
      if (keyed) {
        for (const v of chunk.values) for await (const batch of this.#part(partition++, v).batches()) for (const pair of batch) values.push(pair);
        continue;
      }
      for (const v of chunk.values) values.push(decodeOutput(v, reduced ? 'the result' : `task ${values.length}'s output`));
    }
    if (keyed) return values as T;
    return (reduced ? values[0] : values) as T;
  }

  /**
   * A keyed job's result one partition at a time, in partition order: each
   * part's size, and its [key, value] pairs in key order, streamed from the
   * agent that holds it as they are read (`for await (const [k, v] of
   * part.pairs())`, `part.batches()` for arrays of pairs, `part.text()` for
   * lines). Read a part before asking for the next; a part not read is not
   * fetched. Throws JobFailedError, and for a job that is not keyed says so.
   *
   * With `early`, parts come while the job still runs, each as soon as its
   * reduce has finished (reading overlaps the rest of the reduce phase): the
   * generator ends only once the job has completed, and throws
   * JobFailedError if it did not, so keep what was read as provisional until
   * then (`picompute submit --out` writes early parts under temporary names
   * and renames them all at the end).
   */
  async *parts<K = unknown, V = unknown>(options: { early?: boolean } = {}): AsyncGenerator<Part<K, V>> {
    const partitions = options.early && !this.#final ? await this.#partitionsWhileRunning() : 0;
    if (partitions > 0) {
      const failed = async (err: unknown) => {
        const final = await this.done();
        return final.state === 'COMPLETED' ? err : new JobFailedError(final);
      };
      for (let p = 0; p < partitions; p++) yield openPart<K, V>(this.rpc, this.id, p, undefined, () => [], failed);
      const final = await this.done();
      if (final.state !== 'COMPLETED') throw new JobFailedError(final);
      return;
    }
    let partition = 0;
    for await (const chunk of this.#resultChunks()) {
      if (!chunk.keyed) throw new Error(`job ${this.id} is not a keyed job (it has no reduceByKey), so it has no parts: use result()`);
      for (const v of chunk.values) yield this.#part<K, V>(partition++, v);
    }
  }

  /** A keyed job's partition count from its first event (0 when it is not keyed, or already ended: its result then says). */
  async #partitionsWhileRunning(): Promise<number> {
    const stream = this.rpc.stream<{ jobId: string }, JobEvent>('watch', { jobId: this.id });
    try {
      for await (const ev of stream) return FINAL_STATES.has(ev.state) ? 0 : (ev.shuffle?.reducesTotal ?? 0);
    } finally {
      stream.cancel();
    }
    return 0;
  }

  #part<K, V>(partition: number, value: Buffer): Part<K, V> {
    return openPart<K, V>(this.rpc, this.id, partition, value, (bytes) => decodeOutput(bytes, `partition ${partition}'s part`));
  }

  async *#resultChunks(): AsyncGenerator<ResultChunk> {
    const final = await this.done();
    if (final.state !== 'COMPLETED') {
      // A job cancelled because its inputs could not be sent: that is the reason to give.
      if (this.upload?.error) await this.uploaded;
      throw new JobFailedError(final);
    }
    if (final.result) yield final.result;
    else yield* this.rpc.stream<{ jobId: string }, ResultChunk>('getResult', { jobId: this.id });
  }

  /**
   * What a job that ended without completing did finish: the map output of
   * every task that succeeded, by index, and the indices of those that did
   * not (failed, cancelled, never ran). Throws (RpcError, INVALID_ARGUMENT)
   * while the job still runs. `picompute result ID --partial` prints it.
   */
  async partialResult<T = unknown>(): Promise<PartialResult<T>> {
    const outputs = new Map<number, T>();
    for await (const chunk of this.rpc.stream<{ jobId: string; partial: boolean }, ResultChunk>('getResult', { jobId: this.id, partial: true })) {
      chunk.values.forEach((v, i) => {
        const index = chunk.indices![i]!;
        outputs.set(index, decodeOutput(v, `task ${index}'s output`) as T);
      });
    }
    const final = await this.done();
    const missing: number[] = [];
    for (let i = 0; i < final.tasksTotal; i++) if (!outputs.has(i)) missing.push(i);
    return { state: final.state, outputs, missing };
  }

  async cancel(): Promise<string> {
    const rep = await this.rpc.unary<{ jobId: string }, { state: string }>('cancel', { jobId: this.id });
    return rep.state;
  }
}
