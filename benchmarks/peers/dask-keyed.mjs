/**
 * W7 against Dask (with --peers): Dask's keyed forms of the word count over
 * the same corpus (bag.foldby; a dataframe groupby through a shuffle, P2P
 * where this Dask can run it; the dataframe's default tree-reduced groupby),
 * each checked against the sequential count that picompute's W7 answer is
 * checked against, and picompute's W7 rate over Dask's best.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleExports, here } from '../lib/harness.mjs';

/** sha256 of "word TAB count NEWLINE", words sorted: what dask_bench.py prints of its counts. */
function digest(counts) {
  const h = createHash('sha256');
  for (const word of [...counts.keys()].sort()) h.update(`${word}\t${counts.get(word)}\n`, 'latin1');
  return h.digest('hex');
}

export async function reportDaskKeyed(report, w7, corpus) {
  const { exports: wc } = await bundleExports(here('jobs/word-count.ts'));
  const expected = wc.countWords(readFileSync(corpus, 'latin1'));
  if (w7.digest !== digest(expected) || w7.distinct !== expected.size)
    throw new Error(`Dask's W7 counts (${w7.distinct} words) differ from the sequential count picompute's W7 is checked against (${expected.size} words)`);
  const shuffle = w7.shuffle === 'p2p' ? 'P2P shuffle' : 'task-based shuffle';
  const forms = [
    ['Dask bag.foldby', w7.foldby_mb_s, w7.foldby_ms],
    [`Dask dataframe groupby, ${shuffle} (split_out ${w7.partitions})`, w7.groupby_shuffle_mb_s, w7.groupby_shuffle_ms],
    ['Dask dataframe groupby, tree reduction (default; no shuffle)', w7.groupby_tree_mb_s, w7.groupby_tree_ms],
  ];
  for (const [system, mbS, ms] of forms) report.add('W7 keyed word count', system, mbS, 'MB/s', { ms: +ms.toFixed(0) });
  const best = (list) => list.reduce((a, b) => (b[1] > a[1] ? b : a));
  const [bestSystem, bestMbS] = best(forms);
  // picompute's W7 is a shuffle; of Dask's forms, the second is too (foldby and the default groupby fold trees of dicts instead).
  const [, shuffleMbS] = forms[1];
  const ours = report.get('W7 keyed word count', 'picompute');
  const ratio = ours && Number.isFinite(ours.figure) ? ours.figure / bestMbS : NaN;
  if (Number.isFinite(ratio)) report.add('W7 keyed word count', `picompute / Dask's best (${bestSystem.replace(/^Dask /, '')})`, ratio, '× (target ≥ 2)');
  report.note(
    `W7 vs Dask: exact counts in every form (${expected.size} words, the same as picompute's); ` +
      (Number.isFinite(ratio)
        ? `picompute ${ratio.toFixed(2)}× Dask's best (${bestSystem}, ${bestMbS.toFixed(2)} MB/s), ${(ours.figure / shuffleMbS).toFixed(2)}× its groupby ` +
          `through a shuffle, ${(ours.figure / forms[0][1]).toFixed(2)}× its foldby (picompute best of the run's repeats, each Dask form run once)`
        : 'picompute W7 not run: no ratio') +
      (w7.shuffle_why ? `; the groupby's shuffle: ${w7.shuffle_why}` : ''),
  );
}
