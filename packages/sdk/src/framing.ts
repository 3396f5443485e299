/**
 * Length-prefixed frames: how a list of encoded values (a job's inputs) is
 * packed into one upload and split again by the coordinator. Each frame is a
 * 4-byte big-endian length and that many bytes. Large frames travel as their
 * own chunks and are split back without being copied.
 */
const HEADER = 4;
/** FramePacker's frames of this many bytes or more go alone, uncopied. */
const ALONE_BYTES = 64 * 1024;

function header(length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER);
  h.writeUInt32BE(length, 0);
  return h;
}

export function packFrames(frames: readonly Uint8Array[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => [header(f.length), f]));
}

/**
 * Splits packed bytes, given as one buffer or as the chunks they arrived in.
 * Frames inside one chunk are views into it; only a frame that spans chunks
 * is copied.
 */
export function unpackFrames(packed: Buffer | readonly Buffer[]): Buffer[] {
  const parts = (Buffer.isBuffer(packed) ? [packed] : packed).filter((p) => p.length);
  const frames: Buffer[] = [];
  let part = 0;
  let at = 0;
  let offset = 0;
  /** Takes n bytes from the cursor: a view when they lie in one part. */
  const take = (n: number): Buffer | undefined => {
    if (part >= parts.length) return n === 0 ? Buffer.alloc(0) : undefined;
    const here = parts[part]!;
    if (at + n <= here.length) {
      const view = here.subarray(at, at + n);
      at += n;
      if (at === here.length) part++, (at = 0);
      offset += n;
      return view;
    }
    const pieces: Buffer[] = [];
    let left = n;
    while (left > 0 && part < parts.length) {
      const p = parts[part]!;
      const piece = p.subarray(at, at + left);
      pieces.push(piece);
      left -= piece.length;
      at += piece.length;
      if (at === p.length) part++, (at = 0);
    }
    if (left > 0) return undefined;
    offset += n;
    return Buffer.concat(pieces, n);
  };
  while (part < parts.length) {
    const start = offset;
    const stray = remaining(parts, part, at);
    const h = take(HEADER);
    if (!h) throw new Error(`malformed frame blob: ${stray} stray bytes at offset ${start}`);
    const len = h.readUInt32BE(0);
    const left = remaining(parts, part, at);
    const frame = take(len);
    if (!frame) throw new Error(`malformed frame blob: frame at offset ${start} claims ${len} bytes, ${left} left`);
    frames.push(frame);
  }
  return frames;
}

function remaining(parts: readonly Buffer[], part: number, at: number): number {
  let n = -at;
  for (let i = part; i < parts.length; i++) n += parts[i]!.length;
  return Math.max(0, n);
}

/**
 * Packs frames as they come into upload chunks of at most `chunkBytes`,
 * copying small frames into the chunk being filled: a job's inputs then cost
 * their bytes plus a 4-byte header each, not a Buffer object each (~100–500
 * bytes for a tiny value), so millions of tiny inputs stay small in the
 * submitting process. A frame of 64 KiB or more (or of more than a quarter
 * chunk) goes alone, as a view, not a copy: copying it costs more than the
 * Buffer object it then takes (under 1 % of it), and copies of big fresh
 * buffers are slow (page faults: 50 MB of 1 MB word-count inputs were copied
 * twice here, once into a chunk and once more when the chunk was sealed).
 */
export class FramePacker {
  readonly #chunks: Buffer[] = [];
  /** The chunk being filled; allocated at the first small frame after a seal, as big frames alone seal often. */
  #current: Buffer | undefined;
  #used = 0;
  #count = 0;
  #bytes = 0;

  constructor(private readonly chunkBytes: number) {}

  /** Frames added so far. */
  get count(): number {
    return this.#count;
  }

  /** Packed bytes so far (headers included). */
  get bytes(): number {
    return this.#bytes;
  }

  add(frame: Uint8Array): void {
    this.#count++;
    this.#bytes += HEADER + frame.length;
    if (frame.length >= ALONE_BYTES || frame.length > this.chunkBytes / 4) {
      this.#seal();
      this.#chunks.push(header(frame.length));
      for (let at = 0; at < frame.length; at += this.chunkBytes)
        this.#chunks.push(Buffer.from(frame.buffer, frame.byteOffset + at, Math.min(this.chunkBytes, frame.length - at)));
      return;
    }
    if (this.#used + HEADER + frame.length > this.chunkBytes) this.#seal();
    this.#current ??= Buffer.allocUnsafeSlow(this.chunkBytes);
    this.#current.writeUInt32BE(frame.length, this.#used);
    this.#current.set(frame, this.#used + HEADER);
    this.#used += HEADER + frame.length;
  }

  /** The packed chunks; the packer is done after this. */
  finish(): Buffer[] {
    this.#seal();
    return this.#chunks;
  }

  #seal(): void {
    if (this.#used === 0) return;
    const current = this.#current!;
    // A copy of what was used, so a mostly empty chunk does not pin a whole chunk's memory.
    this.#chunks.push(this.#used === this.chunkBytes ? current : Buffer.from(current.subarray(0, this.#used)));
    this.#current = undefined;
    this.#used = 0;
  }
}
