/**
 * The shuffle's own cost per record, on one thread and without a cluster:
 * W8's records (examples/sort-records.ts, its map, partition and
 * reduceByKey) through the agent's code for keyed tasks — a map's
 * EmitBuffer spilling sorted runs, then per partition the merge of its runs
 * and the part file — timed phase by phase. What W8 measures end to end
 * minus the cluster (uploads, scheduling, threads sharing two cores, parts
 * streamed back), so a change to the shuffle is seen without the noise of
 * the rest:
 *
 *   node benchmarks/shuffle-engine.mjs [MB, default 200] [--runs N, default 3]
 *
 * Run `pnpm run build` first (it loads the agent's built files).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { EmitBuffer } from '../packages/agent/dist/shuffle/emit-buffer.js';
import { mergeGroups } from '../packages/agent/dist/shuffle/merge.js';
import { openPart } from '../packages/agent/dist/shuffle/part-file.js';
import { runChunks } from '../packages/agent/dist/shuffle/run-file.js';
import { bundleExports, here } from './lib/harness.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const mb = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--runs') ?? 200);
const PARTITIONS = 16;
const SPLIT = 16 * 1024 * 1024;
const SPILL_BYTES = (128 * 1024 * 1024) / 4; // an agent with --mem-per-task 128M, as in W8

const { exports } = await bundleExports(here('../examples/sort-records.ts'));
const job = exports.default;
// 16 MiB inputs cut at line breaks, as `--input` cuts a file.
const text = Buffer.from(`${Array.from({ length: Math.round((mb * 1048576) / 1_000_000) }, (_, i) => exports.records(i + 1).join('\n')).join('\n')}\n`);
const splits = [];
for (let at = 0; at < text.length; ) {
  const nl = text.indexOf(10, Math.min(text.length - 1, at + SPLIT - 1));
  const end = nl < 0 ? text.length : nl + 1;
  splits.push({ path: 'records.txt', offset: at, data: text.subarray(at, end) });
  at = end;
}
const records = text.length / 100;

// GC pauses by phase: the collector's own share of each (a buffer that keeps its pairs as young objects pays it at every scavenge).
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
/** GC pauses since the last call (entries arrive a little late: waited for). */
async function gcSince() {
  await new Promise((resolve) => setTimeout(resolve, 20));
  const ms = gcMs;
  gcMs = 0;
  return ms;
}

const rows = [];
for (let run = 0; run < runs; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-shuffle-engine-'));
  try {
    const runsOf = Array.from({ length: PARTITIONS }, () => []);
    await gcSince();
    let t = performance.now();
    for (const [m, input] of splits.entries()) {
      const buffer = new EmitBuffer({ dir, prefix: `m${m}-a0`, partitions: PARTITIONS, partition: job.partition, limitBytes: SPILL_BYTES });
      await job.map(input, { emit: (k, v) => buffer.emit(k, v) });
      for (const r of buffer.finish().runs) runsOf[r.p].push(join(dir, r.id));
    }
    const mapMs = performance.now() - t;
    const mapGcMs = await gcSince();
    t = performance.now();
    let keys = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const part = openPart(dir, p, 0);
      for await (const groups of mergeGroups(runsOf[p].map((f) => runChunks(f, 256 * 1024))))
        for (const [key, values] of groups) part.add(key, job.reduceByKey(key, values));
      keys += part.finish().keys;
    }
    const reduceMs = performance.now() - t;
    const reduceGcMs = await gcSince();
    // Keys are 10 random characters: two records share one about never, so the parts hold about a key a record.
    if (keys > records || keys < records * 0.99) throw new Error(`the parts hold ${keys} keys for ${records} records`);
    rows.push({ map: mapMs, mapGc: mapGcMs, reduce: reduceMs, reduceGc: reduceGcMs, runsPerPartition: runsOf[0].length });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const perRecord = (ms) => +((ms * 1000) / records).toFixed(2);
console.table(
  rows.map((r) => ({
    'map ms': Math.round(r.map),
    'its GC ms': Math.round(r.mapGc),
    'reduce ms': Math.round(r.reduce),
    'its GC ms ': Math.round(r.reduceGc),
    'µs/record': perRecord(r.map + r.reduce),
    'runs a partition': r.runsPerPartition,
  })),
);
const bestRun = rows.reduce((a, b) => (a.map + a.reduce <= b.map + b.reduce ? a : b));
console.log(
  JSON.stringify({
    mb,
    records,
    runs,
    best: { mapMs: Math.round(bestRun.map), reduceMs: Math.round(bestRun.reduce), usPerRecord: perRecord(bestRun.map + bestRun.reduce) },
  }),
);
