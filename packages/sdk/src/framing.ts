/**
 * Length-prefixed frames: how a list of encoded values (a job's inputs) is
 * packed into one content-addressed blob and split again by the coordinator.
 * Each frame is a 4-byte big-endian length and that many bytes.
 */
export function packFrames(frames: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const f of frames) size += 4 + f.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const f of frames) {
    out.writeUInt32BE(f.length, at);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** Splits a packed blob; the frames are views into `blob`, not copies. */
export function unpackFrames(blob: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) throw new Error(`malformed frame blob: ${blob.length - at} stray bytes at offset ${at}`);
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) throw new Error(`malformed frame blob: frame at offset ${at} claims ${len} bytes, ${blob.length - at - 4} left`);
    frames.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return frames;
}
