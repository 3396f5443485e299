/**
 * The live jobs that wait for another (`--dependency afterok:ID`), by the id
 * they wait for: a job's end looks up its own waiters instead of walking
 * every live job (with 10,000 queued, that walk cost each 1-task job's end
 * ~0.4 ms of the coordinator's only thread).
 */
export class DependencyWaiters<J extends { readonly dependsOn: string | undefined }> {
  readonly #byId = new Map<string, Set<J>>();

  add(job: J): void {
    const on = job.dependsOn;
    if (on === undefined) return;
    let waiting = this.#byId.get(on);
    if (!waiting) this.#byId.set(on, (waiting = new Set()));
    waiting.add(job);
  }

  /** A job left the live set: it waits for nothing any more. */
  remove(job: J): void {
    const on = job.dependsOn;
    if (on === undefined) return;
    const waiting = this.#byId.get(on);
    waiting?.delete(job);
    if (waiting?.size === 0) this.#byId.delete(on);
  }

  /** The live jobs waiting for `id` (a copy: releasing or cancelling one changes the set). */
  of(id: string): J[] {
    return [...(this.#byId.get(id) ?? [])];
  }
}
