/**
 * A keyed job's parts as the client reads them. The coordinator's result
 * for a keyed job says, per partition, where its part is (which agent, how
 * many bytes and keys); each part is then streamed through the coordinator
 * (GetPart) in the agents' run format and decoded a chunk at a time, so no
 * part is ever whole in the client's memory either. A value whose first byte
 * is 0xff is a whole part stored by an older coordinator (v8-serialized
 * pairs), read as before.
 */
import { partLines, recordBatches } from '../run-format.js';
import type { CoordinatorRpc } from './rpc.js';

/** One partition's part: its size, and its [key, value] pairs in key order, read once, as pairs or as batches of pairs. */
export interface Part<K = unknown, V = unknown> {
  partition: number;
  /** Bytes of the part as stored (its records), before decoding; for a part read early (parts({ early })), known once reading began. */
  readonly bytes: number;
  /** Keys in the part (known as bytes is). */
  readonly keys: number;
  pairs(): AsyncGenerator<[K, V]>;
  batches(): AsyncGenerator<[K, V][]>;
  /**
   * The part as text, `key TAB value NEWLINE` a pair, in chunks: string keys
   * and values go as they are, without being decoded (the fast way to write
   * a part to a file); any other value as `format` gives it.
   */
  text(format: (value: unknown) => string): AsyncGenerator<Buffer>;
}

/**
 * A part to read: `value` is the job's result's entry for it (a note of
 * where it is, or an older coordinator's whole part), or undefined for a part
 * of a job still running, streamed as soon as its reduce finished: its bytes
 * and keys are then known once its first chunk has come. `failed` turns an
 * error of the stream into the one to throw (the job's own failure).
 */
export function openPart<K, V>(
  rpc: CoordinatorRpc,
  jobId: string,
  partition: number,
  value: Buffer | undefined,
  decodeWhole: (bytes: Buffer) => unknown,
  failed: (err: unknown) => Promise<unknown> = async (err) => err,
): Part<K, V> {
  let batches: () => AsyncGenerator<[K, V][]>;
  let text: (format: (value: unknown) => string) => AsyncGenerator<Buffer>;
  let bytes = value?.length ?? 0;
  let keys = 0;
  if (value?.[0] === 0xff) {
    const pairs = decodeWhole(value) as [K, V][];
    keys = pairs.length;
    batches = async function* () {
      yield pairs;
    };
    text = async function* (format) {
      for await (const batch of batches()) {
        let lines = '';
        for (const [k, v] of batch) lines += `${k}\t${typeof v === 'string' ? v : format(v)}\n`;
        yield Buffer.from(lines);
      }
    };
  } else {
    const learn = (note: string) => {
      const where = JSON.parse(note) as { bytes: number; keys?: number };
      bytes = where.bytes;
      keys = where.keys ?? 0;
    };
    if (value) learn(value.toString('utf8'));
    const bytesOf = async function* (): AsyncGenerator<Buffer> {
      const stream = rpc.part(jobId, partition);
      let complete = false;
      try {
        for await (const chunk of stream) {
          if (chunk.hash) learn(chunk.hash);
          if (chunk.last) complete = true;
          if (chunk.data.length) yield chunk.data;
        }
      } catch (err) {
        throw await failed(err);
      } finally {
        stream.cancel();
      }
      if (!complete)
        throw new Error(`part ${partition} of job ${jobId} ended before its last byte (the coordinator or the agent holding it went away); read it again`);
    };
    const what = `part ${partition} of job ${jobId}`;
    batches = async function* () {
      for await (const records of recordBatches(bytesOf(), what)) {
        for (let i = 0; i < records.length; i++) (records as unknown as [K, V][])[i] = [records[i]![0] as K, records[i]![1][0] as V];
        yield records as unknown as [K, V][];
      }
    };
    text = (format) => partLines(bytesOf(), what, format);
  }
  let read = false;
  const once = () => {
    if (read) throw new Error(`part ${partition} of job ${jobId} was read already: a part streams once; keep what you need as you read it`);
    read = true;
  };
  return {
    partition,
    get bytes() {
      return bytes;
    },
    get keys() {
      return keys;
    },
    batches() {
      once();
      return batches();
    },
    async *pairs() {
      once();
      for await (const batch of batches()) yield* batch;
    },
    text(format) {
      once();
      return text(format);
    },
  };
}
