/**
 * The byte format of a keyed job's sorted runs and of its result parts: one
 * record per key, keys ascending. A record is a 4-byte big-endian length,
 * then the key, a 4-byte count and the values, each an item: `n` and a
 * float64 (a number), `s`, a 4-byte length and UTF-8 (a string), or `v`, a
 * 4-byte length and the codec's bytes (anything else). A part is a run whose
 * records hold one value each: the key's reduced value.
 *
 * Numbers and strings, nearly all a shuffle carries, are written straight
 * into one buffer: a codec call (and the worker's check of every Buffer
 * allocated) per value cost more than the rest of a word count. Records are
 * read back in batches (all the whole records of a chunk of bytes), so a
 * reader pays one await per chunk, not per record. It lives in the SDK
 * because both sides read it: the agents (runs) and the client (parts).
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { shuffleBuffers } from './buffer-shelf.js';
import { decode, encode } from './codec.js';
import type { Key } from './job.js';

export type RunRecord = [key: Key, values: unknown[]];

type Utf8Writable = Buffer & { utf8Write(text: string, offset: number): number };
/** Buffer's own utf8Slice: toString('utf8', start, end) looks up the encoding and checks its arguments first, per string read. */
type Utf8Sliceable = Buffer & { utf8Slice(start: number, end: number): string };

const WRITE_BUFFER = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const NUMBER = 0x6e; // n
const STRING = 0x73; // s
const VALUE = 0x76; // v

/**
 * The 4-byte big-endian lengths of records and items, read and written
 * inline: Buffer#readUInt32BE and #writeUInt32BE check their arguments,
 * which cost a tenth of a part's conversion to text.
 */
export function u32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

/** See u32. */
export function setU32(buf: Uint8Array, at: number, n: number): void {
  buf[at] = n >>> 24;
  buf[at + 1] = n >>> 16;
  buf[at + 2] = n >>> 8;
  buf[at + 3] = n;
}

/**
 * The most bytes `v` takes as an item: 9 for a number, 5 and 3 a UTF-16
 * unit for a string (no exact count needed), else 5 and `encoded`, its codec
 * bytes (undefined for a number or a string).
 */
export function itemRoom(v: unknown, encoded: Buffer | undefined): number {
  if (typeof v === 'number') return 9;
  if (typeof v === 'string') return 5 + 3 * v.length;
  return 5 + encoded!.length;
}

/** The codec's bytes of a value that is neither a number nor a string (items of those need none). */
export function encodedItem(v: unknown): Buffer | undefined {
  return typeof v === 'number' || typeof v === 'string' ? undefined : encode(v);
}

/** Writes `v` as an item at `at` of `buf`, which has room for it (see itemRoom). Returns where it ends. */
export function putItem(buf: Buffer, at: number, v: unknown, encoded: Buffer | undefined): number {
  if (typeof v === 'number') {
    buf[at] = NUMBER;
    buf.writeDoubleLE(v, at + 1);
    return at + 9;
  }
  if (typeof v === 'string') {
    buf[at] = STRING;
    // Buffer's own utf8Write: write(v, at, 'utf8') spends longer on its arguments than on a short string (and copying even a
    // short ASCII string in JavaScript, char by char, was no faster).
    const n = (buf as Utf8Writable).utf8Write(v, at + 5);
    setU32(buf, at + 1, n);
    return at + 5 + n;
  }
  buf[at] = VALUE;
  setU32(buf, at + 1, encoded!.length);
  encoded!.copy(buf, at + 5);
  return at + 5 + encoded!.length;
}

/**
 * Writes records (the caller gives them in key order) to `path`, under a
 * temporary name until `close()` renames it, so a reader never sees half a
 * file and a writer that died leaves only the temporary one. Synchronous: a
 * spill happens inside `ctx.emit`, which a map calls without awaiting, and in
 * a worker thread blocking I/O holds up nobody else.
 */
export class RunWriter {
  readonly #tmp: string;
  readonly #fd: number;
  #buf = shuffleBuffers.take(WRITE_BUFFER);
  #at = 0;
  /** Codec bytes of the current record's items that are neither numbers nor strings, in order, and the next to write. */
  readonly #encoded: Buffer[] = [];
  #next = 0;
  bytes = 0;
  records = 0;

  constructor(readonly path: string) {
    this.#tmp = `${path}.tmp`;
    this.#fd = openSync(this.#tmp, 'w', 0o600);
  }

  add(key: Key, values: readonly unknown[]): void {
    // Room first: a string's UTF-8 is at most 3 bytes per UTF-16 unit, so no exact count is needed.
    if (this.#encoded.length) this.#encoded.length = 0;
    let length = 4 + this.#room(key);
    const items = values.length;
    for (let i = 0; i < items; i++) length += this.#room(values[i]);
    const start = this.#reserve(length);
    this.#next = 0;
    let at = this.#put(key, start + 4);
    setU32(this.#buf, at, items);
    at += 4;
    for (let i = 0; i < items; i++) at = this.#put(values[i], at);
    setU32(this.#buf, start, at - start - 4);
    this.#at = at;
    this.records++;
  }

  /** A record of one value (a reduce's part, a map's lone pair): add(key, [value]) without the array. */
  addOne(key: Key, value: unknown): void {
    if (this.#encoded.length) this.#encoded.length = 0;
    const start = this.#reserve(4 + this.#room(key) + this.#room(value));
    this.#next = 0;
    let at = this.#put(key, start + 4);
    setU32(this.#buf, at, 1);
    at = this.#put(value, at + 4);
    setU32(this.#buf, start, at - start - 4);
    this.#at = at;
    this.records++;
  }

  /** Most bytes an item may take; a value that is neither a number nor a string is encoded here, once. */
  #room(v: unknown): number {
    const b = encodedItem(v);
    if (b) this.#encoded.push(b);
    return itemRoom(v, b);
  }

  /** Makes room for a record of at most `length` bytes after its 4-byte length; returns where it starts. */
  #reserve(length: number): number {
    if (this.#at + 4 + length > this.#buf.length) {
      this.#flush();
      if (4 + length > this.#buf.length) {
        shuffleBuffers.give(this.#buf);
        this.#buf = shuffleBuffers.take(4 + length);
      }
    }
    return this.#at;
  }

  /** Writes an item at `at`; returns where it ends. */
  #put(v: unknown, at: number): number {
    return putItem(this.#buf, at, v, typeof v === 'number' || typeof v === 'string' ? undefined : this.#encoded[this.#next++]);
  }

  /**
   * Bytes that are whole records (or, over several calls, add up to them),
   * written as they are: after what is buffered, straight from `buf`. For a
   * caller that keeps records as bytes already (the map side's arena).
   */
  addBytes(buf: Uint8Array, start: number, end: number, records: number): void {
    this.#flush();
    for (let off = start; off < end; ) off += writeSync(this.#fd, buf, off, end - off);
    this.bytes += end - start;
    this.records += records;
  }

  /** Writes what is buffered, closes and renames the file into place; returns its size. */
  close(): number {
    try {
      this.#flush();
    } finally {
      closeSync(this.#fd);
      this.#release();
    }
    renameSync(this.#tmp, this.path);
    return this.bytes;
  }

  /** Gives up: the temporary file goes. */
  abort(): void {
    try {
      closeSync(this.#fd);
    } catch {}
    this.#release();
    rmSync(this.#tmp, { force: true });
  }

  /** The write buffer goes back to the shelf: this writer writes no more. */
  #release(): void {
    shuffleBuffers.give(this.#buf);
    this.#buf = EMPTY;
    this.#at = 0;
  }

  #flush(): void {
    let off = 0;
    while (off < this.#at) off += writeSync(this.#fd, this.#buf, off, this.#at - off);
    this.bytes += this.#at;
    this.#at = 0;
  }
}

/**
 * The records in `chunks` (bytes of a run or a part, in order), a batch per
 * chunk that completes any. `what` names the source in an error: a source
 * that ends inside a record was cut short.
 */
export async function* recordBatches(chunks: AsyncIterable<Buffer | Uint8Array>, what: string): AsyncGenerator<RunRecord[]> {
  for await (const buf of wholeRecords(chunks, what)) {
    const batch: RunRecord[] = [];
    for (let at = 0; at < buf.length; at += 4 + u32(buf, at)) batch.push(decodeRecord(buf, at + 4));
    yield batch;
  }
}

/**
 * `chunks` cut at record boundaries: each buffer yielded holds whole records
 * only. A record cut by a chunk's end is joined with the start of the next
 * chunk by itself (a few bytes copied, not the chunk).
 */
export async function* wholeRecords(chunks: AsyncIterable<Buffer | Uint8Array>, what: string): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const piece of chunks) {
    let p = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (rest.length) {
      if (rest.length < 4) {
        const head = Math.min(4 - rest.length, p.length);
        rest = Buffer.concat([rest, p.subarray(0, head)]);
        p = p.subarray(head);
        if (rest.length < 4) continue;
      }
      const need = 4 + u32(rest, 0) - rest.length;
      if (p.length < need) {
        rest = Buffer.concat([rest, p]);
        continue;
      }
      yield Buffer.concat([rest, p.subarray(0, need)]);
      p = p.subarray(need);
    }
    let at = 0;
    while (p.length - at >= 4) {
      const end = at + 4 + u32(p, at);
      if (end > p.length) break;
      at = end;
    }
    if (at) yield p.subarray(0, at);
    rest = p.subarray(at);
  }
  if (rest.length) throw new Error(`${what} ends inside a record (${rest.length} bytes left over): it was cut short`);
}

/**
 * A run read a record at a time without decoding ahead: only the head
 * record's key is decoded, its values when asked, and the bytes stay in the
 * chunk they were read in (outside the JS heap). A k-way merge of runs that
 * decoded a chunk's records at once kept thousands of small objects alive
 * per run until their turn came; they outlived the young generation, and
 * collecting them took a third of a reduce's time. A record cut by a chunk's
 * end is joined with the next chunk in a buffer of the cursor's own, taken
 * from this thread's shelf and reused for every later join (a new one per
 * join was half a GiB of garbage per worker in a 1 GiB sort), put back when
 * the run ends. It reads a chunk only while it no longer needs the one
 * before (see runChunks in the agent, which reuses them).
 */
export class RunCursor {
  #buf: Buffer = EMPTY;
  /** Where records cut by a chunk's end are joined with the next chunk. */
  #joined: Buffer | undefined;
  /** Start of the head record's items, and the end of the record. */
  #items = 0;
  #end = 0;
  /** Where the head's values start (after the key and count). */
  #valuesAt = 0;
  #count = 0;
  key: Key = '';

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly what: string,
  ) {}

  /** Moves to the next record if it is whole in the bytes read so far; false when more must be read (fill). */
  step(): boolean {
    const buf = this.#buf;
    const at = this.#end;
    if (buf.length - at < 4) return false;
    const len = u32(buf, at);
    if (buf.length - at - 4 < len) return false;
    this.#items = at + 4;
    this.#end = at + 4 + len;
    this.key = readItem(buf, this.#items) as Key;
    this.#count = u32(buf, itemEnd);
    this.#valuesAt = itemEnd + 4;
    return true;
  }

  /** Reads more and moves to the next record; false at the end of the run. */
  async fill(): Promise<boolean> {
    for (;;) {
      const next = await this.chunks.next();
      const rest = this.#buf.subarray(this.#end);
      if (next.done) {
        if (rest.length) throw new Error(`${this.what} ends inside a record (${rest.length} bytes left over): it was cut short`);
        shuffleBuffers.give(this.#joined);
        this.#joined = undefined;
        this.#buf = EMPTY;
        return false;
      }
      this.#buf = rest.length ? this.#join(rest, next.value) : next.value;
      this.#end = 0;
      if (this.step()) return true;
    }
  }

  /** `rest` (the start of a cut record: the end of the last chunk, or of the last join) and `chunk` as one buffer. */
  #join(rest: Buffer, chunk: Buffer): Buffer {
    const size = rest.length + chunk.length;
    let joined = this.#joined;
    if (joined && joined.length >= size) {
      // `rest` may lie in this very buffer (a record longer than a chunk): copyWithin moves it down safely.
      if (rest.buffer === joined.buffer) joined.copyWithin(0, rest.byteOffset - joined.byteOffset, rest.byteOffset - joined.byteOffset + rest.length);
      else rest.copy(joined, 0);
    } else {
      joined = shuffleBuffers.take(size);
      rest.copy(joined, 0);
      shuffleBuffers.give(this.#joined);
      this.#joined = joined;
    }
    chunk.copy(joined, rest.length);
    return joined.subarray(0, size);
  }

  /** The head record's values, decoded now. */
  values(): unknown[] {
    const values = new Array<unknown>(this.#count);
    let at = this.#valuesAt;
    for (let i = 0; i < this.#count; i++) {
      values[i] = readItem(this.#buf, at);
      at = itemEnd;
    }
    return values;
  }
}

/** Where the item readItem read last ends (a tuple per item would be garbage per value). */
let itemEnd = 0;

/** The item at `at`; sets itemEnd. */
function readItem(buf: Buffer, at: number): unknown {
  const type = buf[at];
  if (type === NUMBER) {
    itemEnd = at + 9;
    return buf.readDoubleLE(at + 1);
  }
  const n = u32(buf, at + 1);
  const start = at + 5;
  itemEnd = start + n;
  if (type === STRING) return (buf as Utf8Sliceable).utf8Slice(start, itemEnd);
  if (type === VALUE) return decode(buf.subarray(start, itemEnd));
  throw new Error(`a run holds an item of unknown type ${type}: it was not written by this version of picompute`);
}

function decodeRecord(buf: Buffer, start: number): RunRecord {
  const key = readItem(buf, start) as Key;
  const count = u32(buf, itemEnd);
  let at = itemEnd + 4;
  const values = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    values[i] = readItem(buf, at);
    at = itemEnd;
  }
  return [key, values];
}

const TAB = 0x09;
const NEWLINE = 0x0a;

/**
 * Copies `n` bytes: short ones byte by byte (Buffer#copy's checks and its
 * view per call cost more than copying a key or a record's value), long
 * ones with TypedArray#set. Returns where the copy ends in `to`.
 */
function copyBytes(from: Uint8Array, start: number, n: number, to: Uint8Array, at: number): number {
  if (n > 24) {
    to.set(from.subarray(start, start + n), at);
    return at + n;
  }
  for (let k = 0; k < n; k++) to[at + k] = from[start + k]!;
  return at + n;
}

/**
 * A part's records as text lines, `key TAB value NEWLINE`, straight from its
 * bytes: a string key or value is copied as its UTF-8 is, with no string
 * made in between; a number key as String(n); any other value (a number, a
 * codec value) as `format` gives it. A record of several values (a run, not
 * a part) gives them TAB-separated.
 */
export async function* partLines(chunks: AsyncIterable<Buffer | Uint8Array>, what: string, format: (value: unknown) => string): AsyncGenerator<Buffer> {
  for await (const buf of wholeRecords(chunks, what)) {
    const out = stringLines(buf) ?? formattedLines(buf, format);
    if (out.length) yield out;
  }
}

/**
 * Records whose keys and values are all strings (a sort's, a join's), as
 * lines: the batch is copied once, then each string is moved down over the
 * framing before it. A line is always shorter than its record, so a move
 * never reaches bytes still to be read, and copyWithin makes no view per
 * copy (TypedArray#set from a subarray did, a third of the time a line took).
 * Undefined at the first item that is not a string: the batch is then done
 * the general way, from its own bytes, which were only read.
 */
function stringLines(buf: Buffer): Buffer | undefined {
  const out = Buffer.allocUnsafe(buf.length);
  out.set(buf);
  let o = 0;
  for (let at = 0, next = 0; at < buf.length; at = next) {
    next = at + 4 + u32(buf, at);
    let i = at + 4;
    if (buf[i] !== STRING) return undefined;
    let n = u32(buf, i + 1);
    o = moveDown(out, i + 5, n, o);
    i += 5 + n;
    const count = u32(buf, i);
    i += 4;
    for (let v = 0; v < count; v++) {
      if (buf[i] !== STRING) return undefined;
      out[o++] = TAB;
      n = u32(buf, i + 1);
      o = moveDown(out, i + 5, n, o);
      i += 5 + n;
    }
    out[o++] = NEWLINE;
  }
  return out.subarray(0, o);
}

/** Moves `n` bytes of `buf` from `start` down to `to` (≤ start); short ones byte by byte, cheaper than a call. Returns where they end. */
function moveDown(buf: Buffer, start: number, n: number, to: number): number {
  if (n > 24) buf.copyWithin(to, start, start + n);
  else for (let k = 0; k < n; k++) buf[to + k] = buf[start + k]!;
  return to + n;
}

/** See partLines: any batch, formatting the items that are not strings. */
function formattedLines(buf: Buffer, format: (value: unknown) => string): Buffer {
  // Output never outgrows the input read so far (a string item's line is shorter than its record): only a formatted item,
  // written at input position `i`, may need room made, for itself and for as many bytes as the input has left.
  let out = Buffer.allocUnsafe(buf.length + 64);
  let o = 0;
  const text = (t: string, i: number) => {
    const most = 3 * t.length + (buf.length - i) + 64;
    if (o + most > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, o + most));
      out.copy(bigger, 0, 0, o);
      out = bigger;
    }
    o += out.write(t, o, 'utf8');
  };
  for (let at = 0; at < buf.length; at += 4 + u32(buf, at)) {
    let i = at + 4;
    if (buf[i] === STRING) {
      const n = u32(buf, i + 1);
      o = copyBytes(buf, i + 5, n, out, o);
      i += 5 + n;
    } else {
      text(String(readItem(buf, i)), i);
      i = itemEnd;
    }
    const count = u32(buf, i);
    i += 4;
    for (let v = 0; v < count; v++) {
      if (buf[i] === STRING) {
        out[o++] = TAB;
        const n = u32(buf, i + 1);
        o = copyBytes(buf, i + 5, n, out, o);
        i += 5 + n;
      } else {
        text(`\t${format(readItem(buf, i))}`, i);
        i = itemEnd;
      }
    }
    out[o++] = NEWLINE;
  }
  return out.subarray(0, o);
}
