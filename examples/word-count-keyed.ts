/**
 * Word count with a real shuffle (MapReduce's first example):
 *
 *   picompute submit examples/word-count-keyed.ts --input books/ --out counts/
 *
 * Each map gets a chunk of a file (ending at a line break) and emits (word, 1);
 * `combine` adds up a word's ones on the mapper before anything moves; each
 * reducer gets its words in order, each once, with every count for it.
 */
import { chunkText, defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'word-count',
  map: (chunk, ctx) => {
    for (const word of chunkText(chunk)
      .toLowerCase()
      .split(/[^a-z]+/))
      if (word) ctx.emit(word, 1);
  },
  combine: (_word, counts: number[]) => counts.reduce((a, b) => a + b, 0),
  reduceByKey: (_word, counts: number[]) => counts.reduce((a, b) => a + b, 0),
});
