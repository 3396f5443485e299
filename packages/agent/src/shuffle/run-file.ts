/**
 * A sorted run on disk: one record per key, keys ascending. A record is a
 * 4-byte big-endian length, then the key, a 4-byte count and the values,
 * each an item: `n` and a float64 (a number), `s`, a 4-byte length and UTF-8
 * (a string), or `v`, a 4-byte length and the SDK codec's bytes (anything
 * else). Numbers and strings, nearly all a shuffle carries, are written
 * straight into one buffer: a codec call (and the worker's check of every
 * Buffer allocated, ../memory-guard.ts) per value cost more than the rest of
 * a word count. Written whole (to a temporary name, then renamed, so a
 * reader never sees half a run) and read back as a stream, a record at a
 * time, so a merge of many runs holds one buffer per run, not the runs.
 */
import { closeSync, createReadStream, openSync, renameSync, writeSync } from 'node:fs';
import type { Key } from '@picompute/sdk';
import { decode, encode } from '@picompute/sdk/codec';

export type RunRecord = [key: Key, values: unknown[]];

const WRITE_BUFFER = 1024 * 1024;
const NUMBER = 0x6e; // n
const STRING = 0x73; // s
const VALUE = 0x76; // v

/** Bytes an item takes; a value that is neither a number nor a string is encoded here, once. */
function itemSize(v: unknown, encoded: Map<number, Buffer>, slot: number): number {
  if (typeof v === 'number') return 9;
  if (typeof v === 'string') return 5 + Buffer.byteLength(v, 'utf8');
  const bytes = encode(v);
  encoded.set(slot, bytes);
  return 5 + bytes.length;
}

/**
 * Writes `records` (already in key order) to `path`; returns its size in
 * bytes. Synchronous: a spill happens inside `ctx.emit`, which a map calls
 * without awaiting, and in a worker thread blocking I/O holds up nobody else.
 */
export function writeRun(path: string, records: Iterable<RunRecord>): number {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  let bytes = 0;
  let buf = Buffer.allocUnsafe(WRITE_BUFFER);
  let at = 0;
  const flush = () => {
    if (at) writeSync(fd, buf, 0, at);
    bytes += at;
    at = 0;
  };
  const encoded = new Map<number, Buffer>();
  const put = (v: unknown, slot: number) => {
    if (typeof v === 'number') {
      buf[at] = NUMBER;
      buf.writeDoubleLE(v, at + 1);
      at += 9;
    } else if (typeof v === 'string') {
      buf[at] = STRING;
      const n = buf.write(v, at + 5, 'utf8');
      buf.writeUInt32BE(n, at + 1);
      at += 5 + n;
    } else {
      const b = encoded.get(slot)!;
      buf[at] = VALUE;
      buf.writeUInt32BE(b.length, at + 1);
      b.copy(buf, at + 5);
      at += 5 + b.length;
    }
  };
  try {
    for (const [key, values] of records) {
      encoded.clear();
      let length = itemSize(key, encoded, -1) + 4;
      for (let i = 0; i < values.length; i++) length += itemSize(values[i], encoded, i);
      if (at + 4 + length > buf.length) {
        flush();
        if (4 + length > buf.length) buf = Buffer.allocUnsafe(4 + length);
      }
      buf.writeUInt32BE(length, at);
      at += 4;
      put(key, -1);
      buf.writeUInt32BE(values.length, at);
      at += 4;
      for (let i = 0; i < values.length; i++) put(values[i], i);
    }
    flush();
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
      yield decodeRecord(buf, at + 4);
      at += 4 + len;
    }
    buf = buf.subarray(at);
  }
  if (buf.length) throw new Error(`run file ${path} ends inside a record (${buf.length} bytes left over): it was cut short`);
}

function decodeRecord(buf: Buffer, start: number): RunRecord {
  let at = start;
  const item = (): unknown => {
    const type = buf[at];
    if (type === NUMBER) {
      at += 9;
      return buf.readDoubleLE(at - 8);
    }
    const n = buf.readUInt32BE(at + 1);
    at += 5 + n;
    if (type === STRING) return buf.toString('utf8', at - n, at);
    if (type === VALUE) return decode(buf.subarray(at - n, at));
    throw new Error(`a run holds an item of unknown type ${type}: it was not written by this version of picompute`);
  };
  const key = item() as Key;
  const count = buf.readUInt32BE(at);
  at += 4;
  const values = new Array<unknown>(count);
  for (let i = 0; i < count; i++) values[i] = item();
  return [key, values];
}
