/**
 * A sorted run on disk: one record per key, `encode([key, values])` (the SDK
 * codec) behind a 4-byte big-endian length, keys ascending. Written whole
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
      const body = encode(r);
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32BE(body.length, 0);
      pending.push(head, body);
      size += 4 + body.length;
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
      yield decode(buf.subarray(at + 4, at + 4 + len)) as RunRecord;
      at += 4 + len;
    }
    buf = buf.subarray(at);
  }
  if (buf.length) throw new Error(`run file ${path} ends inside a record (${buf.length} bytes left over): it was cut short`);
}
