/**
 * W3: word count over ~50 MB of real text (the Brown Corpus, tags stripped,
 * repeated): MB/s end to end (read, split, upload, count, fold), checked
 * against a sequential count, beside one thread and plain piscina running the
 * same countWords on the same chunks.
 */
import { readFileSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { corpusFile } from '../lib/corpus.mjs';
import { best, bundleExports, here } from '../lib/harness.mjs';
import { withLocalCluster } from '../lib/local.mjs';
import { withDaemons } from '../lib/daemons.mjs';

function sameCounts(a, b) {
  if (a.size !== b.size) return false;
  for (const [w, n] of a) if (b.get(w) !== n) return false;
  return true;
}

export async function run({ quick, cores, repeat, report }) {
  const file = corpusFile(quick ? 2 : 50);
  const mb = statSync(file).size / 1048576;
  const job = here('jobs/word-count.ts');
  const { url, exports: wc } = await bundleExports(job);
  const text = readFileSync(file, 'latin1');
  let expected;
  const single = await best(1, () => (expected = wc.countWords(text)));
  report.add('W3 word count', 'one thread', mb / (single.ms / 1000), 'MB/s', { ms: +single.ms.toFixed(0), words: expected.size });

  const parts = [...wc.chunks(text, 1 << 20)];
  const pool = new Piscina({
    filename: here('baselines/bundle-worker.mjs'),
    minThreads: cores,
    maxThreads: cores,
    workerData: { bundleUrl: url, exportName: 'countWords' },
  });
  await pool.run('warm up');
  const p = await best(repeat, async () => {
    const counts = (await Promise.all(parts.map((t) => pool.run(t)))).reduce(wc.mergeCounts, new Map());
    if (!sameCounts(counts, expected)) throw new Error('piscina W3 counts differ from the sequential count');
  });
  await pool.destroy();
  report.add('W3 word count', `plain piscina (${cores} threads)`, mb / (p.ms / 1000), 'MB/s', { ms: +p.ms.toFixed(0) });

  const { raw, rawChunks } = await rawLimits(file, text, cores, url, repeat, wc, expected);
  report.add('W3 word count', `raw limit: ${cores} bare worker threads, each reading its part of the file`, mb / (raw / 1000), 'MB/s', { ms: +raw.toFixed(0) });
  report.add(
    'W3 word count',
    `raw limit with the job's ${parts.length} chunks: ${cores} bare threads, each reading its next chunk, a Map a chunk`,
    mb / (rawChunks / 1000),
    'MB/s',
    {
      ms: +rawChunks.toFixed(0),
    },
  );

  await withLocalCluster(cores, async (client) => {
    const r = await best(repeat, async () => {
      const counts = await (await client.submit(job, { args: { file } })).result();
      if (!sameCounts(counts, expected)) throw new Error('picompute W3 counts differ from the sequential count');
    });
    report.add('W3 word count', 'picompute (embedded)', mb / (r.ms / 1000), 'MB/s', { ms: +r.ms.toFixed(0) });
    const limit = cores * (mb / (single.ms / 1000));
    report.note(
      `W3: ${mb.toFixed(0)} MB, exact counts (${expected.size} words); picompute ${(mb / (r.ms / 1000) / limit).toFixed(2)}× (cores × one thread's rate), ${(raw / r.ms).toFixed(2)}× the raw limit of ${cores} bare threads counting the same file, same run (target ≥ 0.9); ` +
        `${(rawChunks / r.ms).toFixed(2)}× the same bare threads counting it in the job's ${parts.length} chunks, which reach ${(raw / rawChunks).toFixed(2)}× the raw limit themselves`,
    );
    await firstTaskVsUpload(client, file, 'embedded', report, expected);
  });
  await withDaemons(cores, (client) => firstTaskVsUpload(client, file, 'real daemons', report, expected));
}

/**
 * "Tasks start while inputs still arrive": the text submitted as `input`
 * (1 MiB chunks, streamed after the submit), into a fresh chunk store (a
 * second submit would send nothing). The first map's start (when the
 * coordinator sent it, from `picompute tasks`) against the moment the
 * client sent its last chunk, both from the submit; one run each.
 */
async function firstTaskVsUpload(client, file, where, report, expected) {
  const submitted = Date.now();
  const job = await client.submit(here('jobs/word-count-keyed.ts'), { input: [file], splitSize: '1M' });
  await job.uploaded;
  const uploadEnd = Date.now() - submitted;
  // The keyed count (W7's job) has W3's word rule: the same counts.
  if (!sameCounts(new Map(await job.result()), expected)) throw new Error(`W3 over input chunks (${where}): counts differ from the sequential count`);
  const starts = (await client.tasks(job.id)).map((t) => t.startedAtMs).filter((t) => t > 0);
  const firstStart = Math.min(...starts) - submitted;
  report.add('W3 first task start vs upload end', `${where}: first map started`, firstStart, 'ms', { uploadEndMs: uploadEnd, chunks: job.upload?.chunks });
  report.add('W3 first task start vs upload end', `${where}: last chunk sent`, uploadEnd, 'ms', { bytesSent: job.upload?.bytesSent });
}

/**
 * The machine's limits for W3, from `cores` bare worker threads (started and
 * warm beforehand) that read their own line-aligned byte ranges of the file
 * and count them with the same countWords, the counts merged on this thread,
 * nothing else sent: `raw` with one range a thread (2 Maps to merge), and
 * `rawChunks` with the job's own ranges, each thread taking the next (the
 * 1 MiB chunks of inputs(args): a Map a chunk, as the job's maps make). The
 * second is the fastest this machine counts the text in the job's shape, so
 * it shows what of the gap to `raw` is the shape's and what is picompute's.
 * Best of `repeat` each, ms.
 */
async function rawLimits(file, text, cores, bundleUrl, repeat, wc, expected) {
  // Line-aligned byte ranges of the file, as the job's chunks() cuts its text (latin1: a character a byte).
  const rangesOf = (size) => {
    const ranges = [];
    let at = 0;
    for (const c of wc.chunks(text, size)) ranges.push({ file, start: at, end: (at += c.length) });
    return ranges;
  };
  const halves = rangesOf(Math.ceil(text.length / cores));
  const chunks = rangesOf(1 << 20);
  const workers = halves.map(() => new Worker(here('baselines/count-range-worker.mjs'), { workerData: { bundleUrl } }));
  const next = (w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
  const count = async (ranges) => {
    const counts = [];
    let taken = 0;
    await Promise.all(
      workers.map(async (w) => {
        while (taken < ranges.length) {
          w.postMessage(ranges[taken++]);
          counts.push(await next(w));
        }
      }),
    );
    // Merged in the order they came back: counts add up the same in any order.
    if (!sameCounts(counts.reduce(wc.mergeCounts, new Map()), expected)) throw new Error('the raw W3 counts differ from the sequential count');
  };
  try {
    await Promise.all(workers.map(next));
    const raw = (await best(repeat, () => count(halves))).ms;
    const rawChunks = (await best(repeat, () => count(chunks))).ms;
    return { raw, rawChunks };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
