/**
 * A distributed sort of fixed-width records (the shape of the sort benchmark:
 * 100-byte lines, a 10-byte key of printable ASCII then the payload), with a
 * range `partition`: partition p gets the keys whose first byte falls in the
 * p-th slice of ' '…'~', so part-00000, part-00001, … are each sorted and,
 * read one after the other, sorted as a whole.
 *
 *   picompute submit examples/sort-records.ts --arg chunks=8 --out sorted/      # generates 8 × 10,000 records
 *   picompute submit examples/sort-records.ts --input records.txt --out sorted/ # sorts your own lines
 *
 * A part line is the key, a TAB, and the rest of the record (records sharing
 * a key: their payloads in order, joined by a TAB).
 */
import { chunkText, defineJob } from '@picompute/sdk';
import type { FileChunk } from '@picompute/sdk';

const FIRST = 32; // ' '
const SPAN = 95; // ' ' … '~'

/** 10,000 records from a seed (xorshift32): the same records on every run. */
export function records(seed: number, count = 10_000): string[] {
  let x = seed * 2654435761 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let key = '';
    for (let k = 0; k < 10; k++) key += String.fromCharCode(FIRST + (next() % SPAN));
    out.push(`${key}${String(seed).padStart(8, '0')}${String(i).padStart(10, '0')}${'.'.repeat(71)}`);
  }
  return out;
}

export default defineJob({
  name: 'sort-records',
  inputs: (args) => Array.from({ length: Number(args.chunks ?? 8) }, (_, i) => i + 1),
  map: (input: number | FileChunk, ctx) => {
    const lines = typeof input === 'number' ? records(input) : chunkText(input).split('\n');
    for (const line of lines) if (line.length >= 10) ctx.emit(line.slice(0, 10), line.slice(10));
  },
  reduceByKey: (_key, payloads: string[]) => payloads.sort().join('\t'),
  partitions: 4,
  partition: (key, partitions) => Math.min(partitions - 1, Math.floor(((key.charCodeAt(0) - FIRST) * partitions) / SPAN)),
});
