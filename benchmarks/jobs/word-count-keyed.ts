/**
 * W7: word count with a real shuffle (the same word rule as W3: a run of
 * [a-z'] after lower-casing). Submitted with the text file as `input`, so
 * each map gets a chunk of it; words go to reducers by key.
 */
import { defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'w7-keyed-word-count',
  map: (chunk, ctx) => {
    for (const m of chunk.data
      .toString('latin1')
      .toLowerCase()
      .matchAll(/[a-z']+/g))
      ctx.emit(m[0], 1);
  },
  combine: (_word, counts: number[]) => counts.reduce((a, b) => a + b, 0),
  reduceByKey: (_word, counts: number[]) => counts.reduce((a, b) => a + b, 0),
});
