/**
 * Map outputs of a coordinator whose state dies with its process (the
 * embedded cluster, `durable: false`): kept here, in memory, instead of in
 * the outputs table. Writing each output through SQLite and reading it back
 * for the result cost W1 (10,000 tiny tasks) about a sixth of its run, to
 * keep bytes that vanish with the process anyway; the client of an embedded
 * cluster holds the whole result in the same process too.
 *
 * It answers the reads the outputs table answers (all in order, a page from
 * an index, by index) and forgets a job's outputs where the table's rows
 * would be deleted (a job past --keep, outputs nobody reads again). So a
 * long-lived embedded cluster (a program that keeps one open and submits
 * job after job) holds every completed map job's outputs in memory until
 * it closes, where before they sat in its temporary database file.
 */
export class MemoryOutputs {
  /** Each job's outputs at their task index; an index not done yet is a hole. */
  readonly #jobs = new Map<number, (Buffer | undefined)[]>();

  put(jobId: number, index: number, output: Buffer): void {
    let outputs = this.#jobs.get(jobId);
    if (!outputs) this.#jobs.set(jobId, (outputs = []));
    outputs[index] = output;
  }

  /** The job's outputs in index order (those done). */
  all(jobId: number): Buffer[] {
    return this.page(jobId, 0, Infinity).map((r) => r.output);
  }

  /** Up to `limit` outputs from index `from` on, with their indices, in order. */
  page(jobId: number, from: number, limit: number): { idx: number; output: Buffer }[] {
    const outputs = this.#jobs.get(jobId) ?? [];
    const rows: { idx: number; output: Buffer }[] = [];
    for (let idx = from; idx < outputs.length && rows.length < limit; idx++) {
      const output = outputs[idx];
      if (output) rows.push({ idx, output });
    }
    return rows;
  }

  drop(jobId: number): void {
    this.#jobs.delete(jobId);
  }
}
