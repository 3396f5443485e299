/**
 * File inputs travel as content-addressed chunks, not inside the job.
 *
 * A file-input map task's input is either its FileChunk encoded as any input
 * (chunks under CHUNK_REF_MIN_BYTES: a reference would cost a round trip for
 * nothing), or a chunk reference: this magic, then JSON naming the chunk by
 * the sha256 of its bytes, with the path and offset the map sees. The codec
 * never writes a first byte of 0x00 (see ./codec.ts), so a reference can
 * never be mistaken for an encoded value, and the coordinator (which never
 * decodes inputs) and agents tell them apart by the first bytes alone.
 *
 * A chunk is what `splitSize` (`--split-size`, default 16M) cuts from a file
 * read as a stream: up to the first line break at or past that size. The
 * client reads its inputs twice, never whole: once to cut and hash them
 * (before the submit, which carries the chunk list), once to send the
 * chunks the coordinator lacks (each checked against its hash again, so a
 * file changed in between fails the submit instead of feeding maps).
 *
 * The chunk's bytes go up once per cluster (PutBlob under `chunk:<sha256>`,
 * into the coordinator's chunk store on disk), after the job was accepted:
 * a map whose chunk is there runs while the others still arrive. Agents
 * fetch a chunk when a map needs it and keep it in a bounded disk cache.
 *
 * A value of `inputs(args)` that encodes to CHUNK_REF_MIN_BYTES or more
 * travels the same way when the coordinator takes it (HasChunks says so; not
 * one whose state is in PostgreSQL): its chunk is the encoded value, its
 * reference names the input's index instead of a file, and the agent
 * decodes the chunk instead of handing the map a FileChunk. So a job whose
 * inputs are big starts while they still go up, as a file-input job does.
 */
import { createHash } from 'node:crypto';

const MAGIC = Buffer.from([0x00, 0x50, 0x43, 0x48, 0x4b, 0x31]); // "\0PCHK1"

/** Chunks at least this big go as references; smaller ones ride inside the job like any input. */
export const CHUNK_REF_MIN_BYTES = 64 * 1024;

/** The PutBlob name (and Work-stream fetch name) of a chunk. */
export const CHUNK_BLOB_PREFIX = 'chunk:';

export interface ChunkRef {
  /** sha256 (hex) of the chunk's bytes. */
  hash: string;
  /** As the map sees it: relative to the `input` root it was found under ('' for a value). */
  path: string;
  offset: number;
  length: number;
  /** A value of inputs(args), encoded, not a piece of a file: the input's index. */
  value?: number;
}

export function encodeChunkRef(ref: ChunkRef): Buffer {
  const json = ref.value === undefined ? { h: ref.hash, p: ref.path, o: ref.offset, n: ref.length } : { h: ref.hash, n: ref.length, v: ref.value };
  return Buffer.concat([MAGIC, Buffer.from(JSON.stringify(json))]);
}

/** Where a referenced chunk comes from, for messages: a place in a file, or an input of inputs(args). */
export function chunkPlace(ref: ChunkRef): string {
  return ref.value === undefined ? `${ref.path} from byte ${ref.offset}` : `input ${ref.value} of inputs(args)`;
}

export function isChunkRef(input: Uint8Array): boolean {
  return input.length > MAGIC.length && input[0] === 0 && Buffer.from(input.buffer, input.byteOffset, MAGIC.length).equals(MAGIC);
}

/** The reference in a task input, or undefined for an input that is not one. */
export function decodeChunkRef(input: Uint8Array): ChunkRef | undefined {
  if (!isChunkRef(input)) return undefined;
  const j = JSON.parse(Buffer.from(input.buffer, input.byteOffset + MAGIC.length, input.length - MAGIC.length).toString('utf8')) as {
    h: string;
    p?: string;
    o?: number;
    n: number;
    v?: number;
  };
  if (!isChunkHash(j.h)) throw new Error(`a chunk reference names "${String(j.h).slice(0, 80)}", which is not a sha256 hash`);
  return j.v === undefined ? { hash: j.h, path: j.p ?? '', offset: j.o ?? 0, length: j.n } : { hash: j.h, path: '', offset: 0, length: j.n, value: j.v };
}

/** The bytes a map input stands for: a referenced chunk's, else its own. */
export function inputBytes(input: Uint8Array): number {
  return isChunkRef(input) ? decodeChunkRef(input)!.length : input.length;
}

export function isChunkHash(hash: string): boolean {
  return /^[0-9a-f]{64}$/.test(hash);
}

export function chunkHash(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
