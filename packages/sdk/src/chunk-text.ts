/**
 * A file chunk as text, for a map that reads its input as a string.
 *
 * Why not `chunk.data.toString()`: Node 20's UTF-8 decoder takes ~70 ms for a
 * 16 MiB chunk here (230 MB/s), while most input files are pure ASCII, whose
 * Latin-1 decoding is the same string at a copy's cost (~7 ms; checking that
 * the bytes are ASCII, ~0.5 ms). In a 1 GiB sort (W8) that was 2.5 s of the
 * workers' CPU. Any other bytes are decoded as UTF-8, exactly as toString() does.
 */
import { isAscii } from 'node:buffer';
import type { FileChunk } from './job.js';

/** The chunk's bytes (or the bytes given) decoded as UTF-8, the way `data.toString()` would, but fast for ASCII. */
export function chunkText(chunk: FileChunk | Uint8Array): string {
  const data = chunk instanceof Uint8Array ? chunk : chunk.data;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return buf.toString(isAscii(buf) ? 'latin1' : 'utf8');
}
