/**
 * A prepared job's big inputs(args) values as chunks (see ../chunk-ref.ts),
 * for a coordinator that takes them: each value's frame is named by its
 * sha256 and replaced in the packed inputs by a reference, and the frames
 * become the chunks sent after the submit, so the job starts while they go
 * up instead of after. Equal values share a chunk.
 */
import { chunkHash, encodeChunkRef } from '../chunk-ref.js';
import { FramePacker, unpackFrames } from '../framing.js';
import type { InputChunkSource, PreparedJob } from '../prepare.js';
import { BLOB_CHUNK_BYTES } from '../wire/options.js';

/** The sha256 of each big value, in the order of `job.bigValues`. */
export function valueHashes(job: PreparedJob): string[] {
  return job.bigValues.map((v) => chunkHash(v.frame));
}

/** The job with its big values as references to chunks named by `hashes` (from valueHashes). */
export function withValueRefs(job: PreparedJob, hashes: readonly string[]): PreparedJob {
  const refs = new Map<number, Buffer>();
  const chunks = new Map<string, InputChunkSource>();
  job.bigValues.forEach(({ index, frame }, i) => {
    const hash = hashes[i]!;
    refs.set(index, encodeChunkRef({ hash, path: '', offset: 0, length: frame.length, value: index }));
    if (!chunks.has(hash)) chunks.set(hash, { hash, file: '', offset: 0, length: frame.length, data: frame });
  });
  // Frames come back as views of the packed chunks (the big ones alone in theirs): only the small ones are copied.
  const packer = new FramePacker(BLOB_CHUNK_BYTES);
  for (const frame of unpackFrames(job.packedInputs)) packer.add(refs.get(packer.count) ?? frame);
  return {
    ...job,
    request: { ...job.request, chunkInputs: true },
    packedBytes: packer.bytes,
    packedInputs: packer.finish(),
    chunks: [...chunks.values()],
    bigValues: [],
  };
}
