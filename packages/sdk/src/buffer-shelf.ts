/**
 * Big scratch buffers put back after use and taken again by the next user on
 * the same thread, instead of a fresh one each time.
 *
 * Why: every Buffer bigger than Node's pool is a new ArrayBuffer, which V8
 * counts as external memory, and V8 answers each ~64 MB of it with a full
 * mark-compact of the heap. A keyed map's per-partition arenas, its run
 * writers and a reduce's run reads made ~3 GB of such buffers per worker
 * thread in a 1 GiB sort (W8), and with them ~140 full collections per
 * thread; kept and reused, the same work allocates a few dozen.
 *
 * One shelf per thread (a module instance per worker thread): no locking,
 * and a buffer is only ever seen by the code running on that thread. The
 * caller must give back only a buffer nothing else still refers to (no view
 * of it kept, no write pending on it).
 */

export class BufferShelf {
  readonly #kept: Buffer[] = [];
  #bytes = 0;

  /** @param maxBytes the most this shelf keeps; a buffer given beyond it is left to the collector. */
  constructor(readonly maxBytes: number) {}

  /** Bytes kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A buffer of at least `size` bytes, its contents left over from its last use: the smallest kept one that fits, else a new one. */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#kept.length; i++) {
      const n = this.#kept[i]!.length;
      if (n >= size && (best < 0 || n < this.#kept[best]!.length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(size);
    const [buf] = this.#kept.splice(best, 1);
    this.#bytes -= buf!.length;
    return buf!;
  }

  /** Puts `buf` back (whole: a buffer from take(), not a view of one) for the next take(); dropped when the shelf is full. */
  give(buf: Buffer | undefined): void {
    if (!buf || buf.length === 0 || this.#bytes + buf.length > this.maxBytes) return;
    this.#kept.push(buf);
    this.#bytes += buf.length;
  }
}

/**
 * This thread's shelf for shuffle buffers (arenas, run writers, run reads):
 * 64 MiB, a 16-partition map's arenas at a 128 MiB task limit and its writers.
 */
export const shuffleBuffers = new BufferShelf(64 * 1024 * 1024);
