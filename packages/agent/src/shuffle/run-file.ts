/**
 * A sorted run on disk: one record per key, keys ascending; a record is a
 * 4-byte big-endian length, then the key and each value as the SDK codec
 * encodes them (its fast forms for numbers and short strings: a v8
 * serializer per record cost more than the rest of a word count), each
 * behind its own 4-byte length, after a 4-byte count of values. Written whole
 * (to a temporary name, then renamed, so a reader never sees half a run) and
 * read back as a stream, a record at a time, so a merge of many runs holds
 * one buffer per run, not the runs.
 */
import { closeSync, createReadStream, openSync, renameSync, writeSync } from 'node:fs';
import type { Key } from '@picompute/sdk';
import { decode, encode } from '@picompute/sdk/codec';

export type RunRecord = [key: Key, values: unknown[]];

const WRITE_BUFFER = 1024 * 1024;

/**
 * Writes `records` (already in key order) to `path`; returns its size in
 * bytes. Synchronous: a spill happens inside `ctx.emit`, which a map calls
 * without awaiting, and in a worker thread blocking I/O holds up nobody else.
 */
export function writeRun(path: string, records: Iterable<RunRecord>): number {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  let bytes = 0;
  try {
    let pending: Buffer[] = [];
    let size = 0;
    for (const r of records) {
      const parts = [encode(r[0]), ...r[1].map((v) => encode(v))];
      const head = Buffer.allocUnsafe(12);
      let length = 4 + 4 * parts.length;
      for (const p of parts) length += p.length;
      head.writeUInt32BE(length, 0);
      head.writeUInt32BE(parts[0]!.length, 4);
      pending.push(head.subarray(0, 8), parts[0]!);
      const count = Buffer.allocUnsafe(4);
      count.writeUInt32BE(r[1].length, 0);
      pending.push(count);
      for (let i = 1; i < parts.length; i++) {
        const h = Buffer.allocUnsafe(4);
        h.writeUInt32BE(parts[i]!.length, 0);
        pending.push(h, parts[i]!);
      }
      size += 4 + length;
      if (size >= WRITE_BUFFER) {
        writeSync(fd, Buffer.concat(pending, size));
        bytes += size;
        pending = [];
        size = 0;
      }
    }
    if (size) writeSync(fd, Buffer.concat(pending, size));
    bytes += size;
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return bytes;
}

/** The records of a run file (a path, or a descriptor left open for the caller to close), in order. */
export async function* readRun(file: string | number): AsyncGenerator<RunRecord> {
  const path = typeof file === 'number' ? `run (fd ${file})` : file;
  const stream =
    typeof file === 'number'
      ? createReadStream('', { fd: file, autoClose: false, start: 0, highWaterMark: 256 * 1024 })
      : createReadStream(file, { highWaterMark: 256 * 1024 });
  let buf: Buffer = Buffer.alloc(0);
  for await (const piece of stream as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, piece]) : piece;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at - 4 < len) break;
      yield decodeRecord(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    buf = buf.subarray(at);
  }
  if (buf.length) throw new Error(`run file ${path} ends inside a record (${buf.length} bytes left over): it was cut short`);
}

function decodeRecord(body: Buffer): RunRecord {
  let at = 0;
  const next = () => {
    const len = body.readUInt32BE(at);
    const value = decode(body.subarray(at + 4, at + 4 + len));
    at += 4 + len;
    return value;
  };
  const key = next() as Key;
  const count = body.readUInt32BE(at);
  at += 4;
  const values = new Array<unknown>(count);
  for (let i = 0; i < count; i++) values[i] = next();
  return [key, values];
}
