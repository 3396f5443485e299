/**
 * Where each map task of a job stands (`picompute tasks ID`, like
 * `squeue -s`): its state, the node and attempt of its last run, when that
 * run started, how long it ran and the heap it held. Kept in typed arrays
 * (about 20 bytes a task) so a million-task job costs ~20 MB, not a
 * million objects; written to the state database once, when the job ends
 * (./state/task-runs.ts), so the hot path writes nothing more per task.
 */
import type { TaskStatus } from '@picompute/sdk/wire';

/** Slurm's words for a task, in the order of their codes. */
export const TASK_STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'CANCELLED'] as const;
export type TaskState = (typeof TASK_STATES)[number];
const CODE = new Map<string, number>(TASK_STATES.map((s, i) => [s, i]));

/** The task's state after a failed run of this kind (TaskError.kind). */
export function failedState(kind: string): TaskState {
  return kind === 'TIMEOUT' ? 'TIMEOUT' : kind === 'OUT_OF_MEMORY' ? 'OUT_OF_MEMORY' : 'FAILED';
}

export interface TaskColumns {
  nodes: string;
  state: Buffer;
  attempt: Buffer;
  node: Buffer;
  startedAt: Buffer;
  runMs: Buffer;
  heapMb: Buffer;
}

/** Bytes a task takes across the columns: startedAt (8), runMs and heapMb (4 each), attempt and node (2 each), state (1). */
const TASK_BYTES = 21;

/** A column of `size` at `offset` of `buffer`, filled from saved bytes when there are any. */
function column<T extends ArrayBufferView>(
  Kind: { new (b: ArrayBuffer, offset: number, n: number): T },
  buffer: ArrayBuffer,
  offset: number,
  size: number,
  bytes?: Buffer,
): T {
  const view = new Kind(buffer, offset, size);
  if (bytes?.length) new Uint8Array(buffer, offset, view.byteLength).set(bytes.subarray(0, view.byteLength));
  return view;
}

export class TaskTable {
  readonly #state: Uint8Array;
  readonly #attempt: Uint16Array;
  /** Index into #nodes, plus one (0: never ran). */
  readonly #node: Uint16Array;
  readonly #nodes: string[] = [];
  /** Where each node is in #nodes: looked up per task started, and an indexOf over 1,000 nodes cost ~1 µs a task. */
  readonly #nodeIndex = new Map<string, number>();
  readonly #startedAt: Float64Array;
  readonly #runMs: Float32Array;
  readonly #heapMb: Float32Array;

  constructor(
    readonly size: number,
    saved?: TaskColumns,
  ) {
    // One buffer for the six columns, widest first so each is aligned: a queued job of one task held six
    // ArrayBuffers (~1 KB of heap) before (benchmarks/queued-jobs.mjs). Saved bytes are copied in (a Buffer
    // from SQLite may sit at an unaligned offset of a shared pool).
    const buffer = new ArrayBuffer(TASK_BYTES * size);
    this.#startedAt = column(Float64Array, buffer, 0, size, saved?.startedAt);
    this.#runMs = column(Float32Array, buffer, 8 * size, size, saved?.runMs);
    this.#heapMb = column(Float32Array, buffer, 12 * size, size, saved?.heapMb);
    this.#attempt = column(Uint16Array, buffer, 16 * size, size, saved?.attempt);
    this.#node = column(Uint16Array, buffer, 18 * size, size, saved?.node);
    this.#state = column(Uint8Array, buffer, 20 * size, size, saved?.state);
    if (saved) {
      for (const node of JSON.parse(saved.nodes) as string[]) {
        const n = this.#nodes.push(node) - 1;
        if (!this.#nodeIndex.has(node)) this.#nodeIndex.set(node, n);
      }
    }
  }

  /** The whole table as a handful of byte columns: one row in the database per job, however many tasks. */
  columns(): TaskColumns {
    const b = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    return {
      nodes: JSON.stringify(this.#nodes),
      state: b(this.#state),
      attempt: b(this.#attempt),
      node: b(this.#node),
      startedAt: b(this.#startedAt),
      runMs: b(this.#runMs),
      heapMb: b(this.#heapMb),
    };
  }

  started(index: number, node: string, attempt: number, at: number): void {
    let n = this.#nodeIndex.get(node);
    if (n === undefined) this.#nodeIndex.set(node, (n = this.#nodes.push(node) - 1));
    this.#node[index] = n + 1;
    this.#attempt[index] = attempt;
    this.#startedAt[index] = at;
    this.#runMs[index] = 0;
    this.#state[index] = CODE.get('RUNNING')!;
  }

  ran(index: number, state: TaskState, runMs: number, heapMb: number): void {
    this.#state[index] = CODE.get(state)!;
    this.#runMs[index] = runMs;
    this.#heapMb[index] = heapMb;
  }

  set(index: number, state: TaskState): void {
    this.#state[index] = CODE.get(state)!;
  }

  state(index: number): TaskState {
    return TASK_STATES[this.#state[index]!]!;
  }

  /** The job ended: what was still waiting or running did not finish. */
  ended(): void {
    for (let i = 0; i < this.size; i++) if (this.#state[i]! <= 1) this.#state[i] = CODE.get('CANCELLED')!;
  }

  row(index: number, now: number): TaskStatus {
    const node = this.#node[index]!;
    const running = this.#state[index] === 1;
    return {
      index,
      state: this.state(index),
      node: node ? this.#nodes[node - 1]! : '',
      attempt: this.#attempt[index]!,
      startedAtMs: this.#startedAt[index]!,
      // A running task's time so far, as squeue shows.
      runMs: running ? now - this.#startedAt[index]! : this.#runMs[index]!,
      heapMb: this.#heapMb[index]!,
    };
  }

  rows(now = Date.now()): TaskStatus[] {
    return Array.from({ length: this.size }, (_, i) => this.row(i, now));
  }
}
