/**
 * W7: keyed word count (a shuffle) over the W3 text: MB/s end to end (chunks
 * cut from the file, maps spilling sorted runs, reducers merging them),
 * checked against a sequential count, beside one thread counting the same
 * text. Dask's keyed forms run under --peers (../peers/dask-keyed.mjs), checked
 * against the same count, with picompute's rate over Dask's best.
 */
import { readFileSync, statSync } from 'node:fs';
import { corpusFile } from '../lib/corpus.mjs';
import { best, bundleExports, here } from '../lib/harness.mjs';
import { withLocalCluster } from '../lib/local.mjs';

export async function run({ quick, cores, repeat, report }) {
  const file = corpusFile(quick ? 2 : 50);
  const mb = statSync(file).size / 1048576;
  const { exports: wc } = await bundleExports(here('jobs/word-count.ts'));
  const text = readFileSync(file, 'latin1');
  let expected;
  const single = await best(1, () => (expected = wc.countWords(text)));
  report.add('W7 keyed word count', 'one thread (W3 loop)', mb / (single.ms / 1000), 'MB/s', { ms: +single.ms.toFixed(0), words: expected.size });
  await withLocalCluster(cores, async (client) => {
    const splitSize = quick ? '256K' : '4M';
    const r = await best(repeat, async () => {
      const pairs = await (await client.submit(here('jobs/word-count-keyed.ts'), { input: [file], splitSize })).result();
      const got = new Map(pairs);
      if (got.size !== expected.size || [...expected].some(([w, n]) => got.get(w) !== n))
        throw new Error('picompute W7 counts differ from the sequential count');
    });
    report.add('W7 keyed word count', `picompute (embedded, --split-size ${splitSize})`, mb / (r.ms / 1000), 'MB/s', { ms: +r.ms.toFixed(0) });
    report.note(
      `W7: ${mb.toFixed(0)} MB, exact counts (${expected.size} words); keyed ${(mb / (r.ms / 1000)).toFixed(1)} MB/s vs one thread's ${(mb / (single.ms / 1000)).toFixed(1)} MB/s`,
    );
  });
}
