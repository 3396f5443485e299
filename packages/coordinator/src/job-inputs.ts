/**
 * A job's inputs as the packed bytes they arrived in plus three numbers per
 * task (which part, where, how long), with each input's Buffer made only
 * when its task is sent. A Buffer view per input costs ~100 bytes of heap
 * whatever its size, which for a job of two million tiny inputs was most of
 * what the coordinator held for it (see benchmarks/queued-task-memory.mjs).
 */
export class JobInputs {
  readonly #parts: Buffer[];
  readonly #part: Uint32Array;
  readonly #start: Uint32Array;
  readonly #length: Uint32Array;

  private constructor(parts: Buffer[], count: number) {
    this.#parts = parts;
    // Three columns of one buffer: fewer ArrayBuffers per job (each ~200 bytes of heap) for many small jobs.
    const columns = new ArrayBuffer(12 * count);
    this.#part = new Uint32Array(columns, 0, count);
    this.#start = new Uint32Array(columns, 4 * count, count);
    this.#length = new Uint32Array(columns, 8 * count, count);
  }

  get count(): number {
    return this.#part.length;
  }

  get(index: number): Buffer {
    const part = this.#parts[this.#part[index]!]!;
    const start = this.#start[index]!;
    return part.subarray(start, start + this.#length[index]!);
  }

  /**
   * Splits length-prefixed frames (see @picompute/sdk/framing), given as the
   * parts they arrived in. A frame that spans parts is copied into a part of
   * its own. Throws on bytes that are not whole frames.
   */
  static unpack(packed: readonly Buffer[]): JobInputs {
    const parts = packed.filter((p) => p.length > 0);
    const cursor = new Cursor(parts);
    let count = 0;
    while (!cursor.atEnd()) {
      const at = cursor.offset;
      const header = cursor.take(4);
      if (!header) throw new Error(`malformed frame blob: ${cursor.left} stray bytes at offset ${at}`);
      const length = header.readUInt32BE(0);
      if (!cursor.skip(length)) throw new Error(`malformed frame blob: frame at offset ${at} claims ${length} bytes, ${cursor.left} left`);
      count++;
    }
    const inputs = new JobInputs(parts, count);
    const again = new Cursor(parts);
    for (let i = 0; i < count; i++) {
      const length = again.take(4)!.readUInt32BE(0);
      const { part, start } = again.place(length, parts);
      inputs.#part[i] = part;
      inputs.#start[i] = start;
      inputs.#length[i] = length;
    }
    return inputs;
  }

  /** Inputs read back one by one (a restarted coordinator's), copied into one buffer. */
  static fromFrames(frames: readonly Buffer[]): JobInputs {
    const all = Buffer.concat(frames as Buffer[]);
    const inputs = new JobInputs([all], frames.length);
    let at = 0;
    frames.forEach((f, i) => {
      inputs.#start[i] = at;
      inputs.#length[i] = f.length;
      at += f.length;
    });
    return inputs;
  }
}

/** A read position over a list of parts. */
class Cursor {
  part = 0;
  at = 0;
  offset = 0;
  readonly #total: number;

  constructor(private readonly parts: Buffer[]) {
    this.#total = parts.reduce((n, p) => n + p.length, 0);
  }

  get left(): number {
    return this.#total - this.offset;
  }

  atEnd(): boolean {
    return this.offset >= this.#total;
  }

  /** Moves past n bytes; false when fewer are left. */
  skip(n: number): boolean {
    if (n > this.left) return false;
    this.offset += n;
    let left = n;
    while (left > 0) {
      const here = this.parts[this.part]!.length - this.at;
      const step = Math.min(here, left);
      this.at += step;
      left -= step;
      if (this.at === this.parts[this.part]!.length) this.part++, (this.at = 0);
    }
    return true;
  }

  /** n bytes from here (a copy when they span parts), or undefined when fewer are left. */
  take(n: number): Buffer | undefined {
    if (n > this.left) return undefined;
    const here = this.parts[this.part];
    if (here && this.at + n <= here.length) {
      const view = here.subarray(this.at, this.at + n);
      this.skip(n);
      return view;
    }
    const pieces: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const p = this.parts[this.part]!;
      const piece = p.subarray(this.at, this.at + left);
      pieces.push(piece);
      this.skip(piece.length);
      left -= piece.length;
    }
    return Buffer.concat(pieces, n);
  }

  /** Where the next n bytes lie as one run: in their part, or (spanning parts) in a new part appended to `parts`. */
  place(n: number, parts: Buffer[]): { part: number; start: number } {
    const here = this.parts[this.part];
    if (n === 0 || (here && this.at + n <= here.length)) {
      const spot = { part: here ? this.part : 0, start: here ? this.at : 0 };
      this.skip(n);
      return spot;
    }
    const copy = this.take(n)!;
    parts.push(copy);
    return { part: parts.length - 1, start: 0 };
  }
}
