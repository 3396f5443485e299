#!/usr/bin/env node
/**
 * `pnpm bench`: W1 and W2 (../shared/DESIGN.md) on the embedded cluster, and
 * in the same run their baselines: plain piscina with the same threads, and
 * one thread. Prints a table and writes results/latest.json.
 *
 *   pnpm bench [-- --tasks 10000 --pi-tasks 64 --points 2000000 --repeat 3]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { startLocalCluster } from '@picompute/cli';
import { bundleJob, writeBundleFile } from '@picompute/sdk/bundle';
import { connect } from '@picompute/sdk/client';
import { decode, encode } from '@picompute/sdk/codec';
import { pack, unpack } from 'msgpackr';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { values: opts } = parseArgs({
  options: {
    tasks: { type: 'string', default: '10000' },
    'pi-tasks': { type: 'string', default: '64' },
    points: { type: 'string', default: '2000000' },
    repeat: { type: 'string', default: '3' },
  },
});
const W1_TASKS = Number(opts.tasks);
const PI_TASKS = Number(opts['pi-tasks']);
const POINTS = Number(opts.points);
const REPEAT = Number(opts.repeat);
const cores = availableParallelism();

/** Best of `n` runs (least disturbed by the rest of the machine), in ms. */
async function best(n, fn) {
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const rows = [];
const row = (workload, system, ms, figure, unit) => rows.push({ workload, system, ms: +ms.toFixed(1), figure: +figure.toFixed(3), unit });

// ---------------------------------------------------------------- codec
{
  const samples = { number: 12345, small: { seed: 7, points: 2_000_000 }, words: new Map(Array.from({ length: 2000 }, (_, i) => [`word${i}`, i])) };
  for (const [name, value] of Object.entries(samples)) {
    const N = name === 'words' ? 500 : 200_000;
    const v8ms = await best(REPEAT, () => { for (let i = 0; i < N; i++) decode(encode(value)); });
    const mpms = await best(REPEAT, () => { for (let i = 0; i < N; i++) unpack(pack(value)); });
    row(`codec ${name}`, 'node:v8 (ours)', v8ms, (N / v8ms) * 1000, 'round trips/s');
    row(`codec ${name}`, 'msgpackr', mpms, (N / mpms) * 1000, 'round trips/s');
  }
}

// ---------------------------------------------------------------- cluster
const cluster = await startLocalCluster({ cores });
const client = await connect({ coordinator: cluster.address });
const runJob = async (file, args) => (await client.submit(file, { args })).result();

// W1: 10,000 tiny tasks, end to end (bundle, inputs, submit, run, collect) on a warm cluster.
await runJob(here('jobs/echo.ts'), { tasks: '100' });
const w1 = await best(REPEAT, async () => {
  const out = await runJob(here('jobs/echo.ts'), { tasks: String(W1_TASKS) });
  if (out.length !== W1_TASKS || out[W1_TASKS - 1] !== W1_TASKS - 1) throw new Error('W1 gave a wrong answer');
});
row('W1 tiny tasks', 'picompute embedded', w1, (W1_TASKS / w1) * 1000, 'tasks/s');
{
  const pool = new Piscina({ filename: here('baselines/noop-worker.mjs'), minThreads: cores, maxThreads: cores });
  await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run(i)));
  const ms = await best(REPEAT, () => Promise.all(Array.from({ length: W1_TASKS }, (_, i) => pool.run(i))));
  row('W1 tiny tasks', `plain piscina (${cores} threads)`, ms, (W1_TASKS / ms) * 1000, 'tasks/s');
  await pool.destroy();
}

// W2: Monte Carlo π. All three run the same countHits, from the example's own bundle.
const example = here('../examples/monte-carlo-pi.ts');
const bundle = await bundleJob(example);
const bundleUrl = pathToFileURL(await writeBundleFile(bundle.code, bundle.hash, here('results/bundles'))).href;
const { countHits } = await import(bundleUrl);
const slices = Array.from({ length: PI_TASKS }, (_, i) => ({ seed: i + 1, points: POINTS }));
let expectedHits = 0;
const single = await best(1, () => { expectedHits = slices.reduce((a, s) => a + countHits(s), 0); });
const expected = (4 * expectedHits) / (PI_TASKS * POINTS);
row('W2 Monte Carlo π', 'one thread', single, 1, 'efficiency');
{
  const pool = new Piscina({ filename: here('baselines/pi-worker.mjs'), minThreads: cores, maxThreads: cores, workerData: { bundleUrl } });
  await pool.run({ seed: 1, points: 1000 });
  const ms = await best(REPEAT, async () => {
    const hits = (await Promise.all(slices.map((s) => pool.run(s)))).reduce((a, b) => a + b, 0);
    if (hits !== expectedHits) throw new Error('piscina W2 gave a wrong answer');
  });
  row('W2 Monte Carlo π', `plain piscina (${cores} threads)`, ms, single / (ms * cores), 'efficiency');
  await pool.destroy();
}
{
  const args = { tasks: String(PI_TASKS), points: String(POINTS) };
  const ms = await best(REPEAT, async () => {
    const pi = await runJob(example, args);
    if (pi !== expected) throw new Error(`W2 gave ${pi}, expected ${expected}`);
  });
  row('W2 Monte Carlo π', 'picompute embedded', ms, single / (ms * cores), 'efficiency');
}
client.close();
await cluster.close();

// ---------------------------------------------------------------- report
const ratio = (w, a, b) => {
  const x = rows.find((r) => r.workload === w && r.system.startsWith(a));
  const y = rows.find((r) => r.workload === w && r.system.startsWith(b));
  return x && y ? +(x.ms / y.ms).toFixed(3) : undefined;
};
const ratios = {
  'W1 picompute time / plain piscina time': ratio('W1 tiny tasks', 'picompute', 'plain piscina'),
  'W2 picompute time / plain piscina time': ratio('W2 Monte Carlo π', 'picompute', 'plain piscina'),
  'W2 picompute time / one thread time': ratio('W2 Monte Carlo π', 'picompute', 'one thread'),
};
console.log(`\npicompute benchmarks — ${cores} cores, Node ${process.version}, best of ${REPEAT}\n`);
console.table(rows);
console.table(ratios);
const report = { date: new Date().toISOString(), node: process.version, cores, repeat: REPEAT, params: { W1_TASKS, PI_TASKS, POINTS }, rows, ratios };
await mkdir(here('results'), { recursive: true });
await writeFile(here('results/latest.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report));
