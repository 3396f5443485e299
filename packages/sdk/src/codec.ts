/**
 * The one codec for values that cross the wire: task inputs, map outputs,
 * accumulators and results.
 *
 * Choice, by measurement (`pnpm bench`, rows "codec …"): node:v8's structured
 * serializer for everything, because it round-trips exactly what the job API
 * promises (Map, Set, Date, BigInt of any size, typed arrays, Buffer, -0,
 * nested plain objects and arrays) with no dependency. msgpackr is as fast on
 * a 2,000-entry Map (2,260 vs 2,185 round trips/s here) but needs extensions
 * and options to keep Map/Set/BigInt/Buffer exact. On tiny values v8's fixed
 * cost dominates (212,000 vs 1,530,000 round trips/s for `{ seed, points }`),
 * so the most common tiny payloads, a lone number or a short string, take a
 * one-byte-tagged fast path: tag 0x01 + float64 (exact, -0 and NaN included),
 * tag 0x02 + UTF-8.
 *
 * Cross-version rule: V8 reads every older serialization format but may
 * refuse a newer one. v8 bytes start with 0xFF and the format version; a value
 * written by a newer Node than the reader's fails with a message naming both
 * versions. Keep every node of a cluster on the same Node major (or upgrade
 * agents first: outputs flow agent → client, inputs client → agent).
 */
import { deserialize, serialize } from 'node:v8';
import { findClassInstance } from './class-instances.js';

const V8_TAG = 0xff;
const NUMBER_TAG = 0x01;
const STRING_TAG = 0x02;
/** Longer strings go through v8, whose one-byte strings are as fast and need no UTF-8 pass. */
const FAST_STRING_MAX = 256;
const STRING_PREFIX = Buffer.from([STRING_TAG]);
/** The format version this Node writes (read once from a tiny value). */
export const CODEC_VERSION: number = serialize(0)[1] ?? 0;

export class CodecError extends Error {
  override name = 'CodecError';
  constructor(message: string, from?: (...args: never[]) => unknown) {
    super(message);
    // The frames inside this codec say nothing to the user: the stack starts at whoever asked to encode or decode.
    if (from) Error.captureStackTrace(this, from);
  }
}

const ROUND_TRIPS = 'numbers, strings, booleans, null, arrays, plain objects, Map, Set, Date, BigInt, typed arrays, Buffer';

export function encode(value: unknown): Buffer {
  if (typeof value === 'number') {
    const out = Buffer.allocUnsafe(9);
    out[0] = NUMBER_TAG;
    out.writeDoubleLE(value, 1);
    return out;
  }
  if (typeof value === 'string' && value.length <= FAST_STRING_MAX) {
    return Buffer.concat([STRING_PREFIX, Buffer.from(value, 'utf8')]);
  }
  const instance = findClassInstance(value);
  if (instance) {
    throw new CodecError(
      `cannot encode value: ${instance.path} is ${instance.className}, which would arrive as a plain object without its class and methods. ` +
        `Send plain data instead (e.g. { ...point }) and rebuild the class on the other side; what round-trips: ${ROUND_TRIPS}`,
      encode,
    );
  }
  try {
    return serialize(value);
  } catch (err) {
    // v8's message ends with its own full stop ("… could not be cloned.").
    throw new CodecError(
      `cannot encode value: ${(err as Error).message.replace(/\.$/, '')}. Values crossing the cluster must be structured-cloneable ` +
        `(${ROUND_TRIPS}); functions and symbols are not.`,
      encode,
    );
  }
}

export function decode<T = unknown>(bytes: Uint8Array): T {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] === NUMBER_TAG && buf.length === 9) return buf.readDoubleLE(1) as T;
  if (buf[0] === STRING_TAG) return buf.toString('utf8', 1) as T;
  if (bytes.length < 2 || bytes[0] !== V8_TAG) {
    throw new CodecError(`cannot decode value: ${bytes.length} bytes that do not start with the codec's header`, decode);
  }
  const version = bytes[1]!;
  if (version > CODEC_VERSION) {
    throw new CodecError(
      `cannot decode value: written with serialization format ${version} by a newer Node.js than this one (${process.version}, format ` +
        `${CODEC_VERSION}); run the same Node.js major on every node`,
      decode,
    );
  }
  try {
    return deserialize(bytes) as T;
  } catch (err) {
    throw new CodecError(`cannot decode value: ${(err as Error).message}`, decode);
  }
}
