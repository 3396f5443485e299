/**
 * W3: word count. The submitting machine splits the text into ~1 MB chunks on
 * line boundaries; each task counts its chunk; the counts fold into one Map.
 * A word is a run of [a-z'] after lower-casing (the same rule the peers use).
 */
import { readFileSync } from 'node:fs';
import { defineJob } from '@picompute/sdk';

export function countWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.toLowerCase().matchAll(/[a-z']+/g)) {
    const w = m[0];
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

export function mergeCounts(acc: Map<string, number>, part: Map<string, number>): Map<string, number> {
  for (const [w, n] of part) acc.set(w, (acc.get(w) ?? 0) + n);
  return acc;
}

export function* chunks(text: string, size: number): Generator<string> {
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + size);
    const nl = text.indexOf('\n', end);
    end = end === text.length || nl < 0 ? text.length : nl + 1;
    yield text.slice(at, end);
    at = end;
  }
}

export default defineJob({
  name: 'w3-word-count',
  inputs: (args) => chunks(readFileSync(args.file!, 'latin1'), Number(args.chunk ?? 1 << 20)),
  map: (text: string) => countWords(text),
  reduce: mergeCounts,
  initial: new Map<string, number>(),
});
