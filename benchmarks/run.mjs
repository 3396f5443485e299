#!/usr/bin/env node
/**
 * `pnpm bench`: the standard workloads W1–W8 of ../shared/DESIGN.md (and the
 * codec and scheduler), each against its baselines in the same run: the work
 * in one thread and on plain piscina with the same threads (the limits of
 * this machine), and with --peers, Dask and Slurm. Prints a table and writes
 * results/latest.json (tracked in git: the figures README quotes), or with
 * --only, results/only-<names>.json, so a partial run does not replace them.
 *
 *   pnpm bench                 # the full suite (a few minutes)
 *   pnpm bench -- --quick      # smoke run: small sizes, checks answers and the harness (CI runs it)
 *   pnpm bench -- --only W1,W4 # some workloads
 *   pnpm bench -- --peers      # also Dask and Slurm (installs them with apt-get when root)
 *   pnpm bench -- --multi-host # also W1, W2, W6 across three network-namespace test hosts (root)
 *   pnpm bench -- --scale      # also 1,000 simulated agents on real gRPC against a real coordinator (scale-agents)
 *   pnpm bench -- --only dashboard # W1 and W2 with the dashboard closed vs open, daemons' RSS with metrics on
 *   pnpm bench -- --only mixed # W2 on a fast and a quota-held agent, placement weighed by measured speed vs not (root)
 *   pnpm bench -- --only backups # 3 agents, one slowed to 25 % of a core or not, with and without backups of stragglers (root)
 *   pnpm bench -- --only wear  # bytes a durable coordinator writes to disk per tiny task (SD cards)
 *   pnpm bench -- --only W8 --w8-mb 100 # W8 on 100 MB instead of 1 GiB
 *   pnpm bench -- --runs 3     # the whole choice three times over: each row's median, with the range (min–max) of the runs
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { here, mergeRuns, Report } from './lib/harness.mjs';

// pnpm passes the `--` of `pnpm bench -- --quick` through to the script.
const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const { values: opts } = parseArgs({
  args: argv,
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    peers: { type: 'boolean', default: false },
    'multi-host': { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    repeat: { type: 'string' },
    runs: { type: 'string' },
    'w8-mb': { type: 'string' },
  },
});
/** A flag's whole number, `min` or more, or the default; anything else stops the bench before it starts, saying why. */
function whole(flag, what, min, byDefault) {
  const given = opts[flag];
  if (given === undefined) return byDefault;
  const n = Number(given);
  if (Number.isInteger(n) && n >= min) return n;
  console.error(`--${flag} takes a whole number of ${what}, ${min} or more (got ${given})`);
  process.exit(2);
}
const ctx = {
  quick: opts.quick,
  peers: opts.peers,
  cores: availableParallelism(),
  repeat: whole('repeat', 'repeats', 1, opts.quick ? 1 : 3),
  report: new Report(),
  w8Mb: whole('w8-mb', 'MB', 1, undefined),
};
const runs = whole('runs', 'runs', 1, 1);
const WORKLOADS = [
  'codec',
  'W1',
  'W2',
  'W3',
  'W4',
  'W5',
  'W6',
  'W7',
  'W8',
  'queue',
  'scale',
  'transport',
  'wear',
  'scale-agents',
  'peers',
  'multi-host',
  'dashboard',
  'mixed',
  'backups',
];
const chosen = opts.only
  ? opts.only.split(',')
  : WORKLOADS.filter((w) => !['peers', 'multi-host', 'dashboard', 'scale-agents', 'mixed', 'backups'].includes(w));
const unknown = chosen.filter((w) => !WORKLOADS.includes(w));
if (unknown.length) {
  console.error(`unknown workload(s) ${unknown.join(', ')}; choose from ${WORKLOADS.join(', ')}`);
  process.exit(2);
}

const modules = {
  codec: './workloads/codec.mjs',
  W1: './workloads/w1-tiny-tasks.mjs',
  W2: './workloads/w2-monte-carlo.mjs',
  W3: './workloads/w3-word-count.mjs',
  W4: './workloads/w4-latency.mjs',
  W5: './workloads/w5-footprint.mjs',
  W6: './workloads/w6-agent-killed.mjs',
  W7: './workloads/w7-keyed-word-count.mjs',
  W8: './workloads/w8-sort.mjs',
  queue: './workloads/queue-latency.mjs',
  scale: './workloads/scale-scheduler.mjs',
  transport: './workloads/transport.mjs',
  wear: './workloads/wear.mjs',
  'scale-agents': './workloads/scale-agents.mjs',
  peers: './workloads/peers.mjs',
  'multi-host': './workloads/multi-host.mjs',
  dashboard: './workloads/dashboard-cost.mjs',
  mixed: './workloads/mixed-speed.mjs',
  backups: './workloads/backups.mjs',
};
if (opts.peers && !chosen.includes('peers')) chosen.push('peers');
if (opts['multi-host'] && !chosen.includes('multi-host')) chosen.push('multi-host');
if (opts.scale && !chosen.includes('scale-agents')) chosen.push('scale-agents');
// The peers run only the workloads asked for (`--only W7 --peers`: Dask's W7 alone).
ctx.chosen = chosen;
// Every temporary file of the run (corpora, W8's records, the daemons' state and caches) under one folder,
// removed at the end: os.tmpdir() reads TMPDIR, and the daemons inherit it.
const runTmp = mkdtempSync(join(tmpdir(), 'picompute-bench-run-'));
chmodSync(runTmp, 0o1777);
process.env.TMPDIR = runTmp;
let failed = false;
const reports = [];
for (let k = 1; k <= runs; k++) {
  ctx.report = new Report();
  for (const w of chosen) {
    const started = performance.now();
    try {
      const mod = await import(modules[w]);
      await mod.run(ctx);
    } catch (err) {
      failed = true;
      ctx.report.add(w, 'ERROR', NaN, String(err?.message ?? err).split('\n')[0]);
      console.error(`${w} failed:`, err);
    }
    console.error(`${runs > 1 ? `run ${k} of ${runs}: ` : ''}${w} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  reports.push(ctx.report);
}
ctx.report = runs > 1 ? mergeRuns(reports) : reports[0];

const report = {
  date: new Date().toISOString(),
  machine: `${ctx.cores} cores, ${cpus()[0]?.model ?? 'unknown CPU'}`,
  node: process.version,
  command: `pnpm bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  quick: ctx.quick,
  repeat: ctx.repeat,
  runs,
  rows: ctx.report.rows,
  notes: ctx.report.notes,
  // Each run's own rows, when there were several: the merge above can be checked or done again from them.
  ...(runs > 1 ? { perRun: reports.map((r) => r.rows) } : {}),
};
console.log(
  `\npicompute benchmarks — ${report.machine}, Node ${report.node}, best of ${ctx.repeat}${runs > 1 ? `, median and range of ${runs} runs` : ''}${ctx.quick ? ' (quick)' : ''}\n`,
);
console.table(report.rows.map(({ runs: _, ...row }) => row));
for (const n of report.notes) console.log(`- ${n}`);
await mkdir(here('results'), { recursive: true });
const name = ctx.quick ? 'quick' : opts.only ? `only-${opts.only.replace(/[^\w-]+/g, '_')}` : 'latest';
await writeFile(here(`results/${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report));
rmSync(runTmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
