/**
 * An inverted index: for each word, how many files have it and which.
 *
 *   picompute submit examples/inverted-index.ts --input docs/ --split-size 0 --out index/
 *
 * `--split-size 0` gives each map one whole file; `chunk.path` is the file's
 * path under docs/. A part line reads `word<TAB>3 a.txt,b.txt,notes/c.txt`.
 */
import { chunkText, defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'inverted-index',
  map: (chunk, ctx) => {
    const words = new Set(
      chunkText(chunk)
        .toLowerCase()
        .split(/[^a-z]+/),
    );
    for (const word of words) if (word) ctx.emit(word, chunk.path);
  },
  reduceByKey: (_word, paths: string[]) => {
    const files = [...new Set(paths)].sort();
    return `${files.length} ${files.join(',')}`;
  },
});
