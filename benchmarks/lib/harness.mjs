/**
 * Shared pieces of the benchmark suite: timing, the result table, and the
 * daemons each workload needs (real processes or the embedded cluster).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleJob, writeBundleFile } from '@picompute/sdk/bundle';

export const here = (p) => fileURLToPath(new URL(`../${p}`, import.meta.url));
export const CLI = here('../packages/cli/dist/bin/picompute.mjs');

/** Best of `n` runs (least disturbed by the rest of the machine), in ms, and which run it was (`at`); also returns the last value. */
export async function best(n, fn) {
  let min = Infinity;
  let at = 0;
  let value;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    value = await fn(i);
    const ms = performance.now() - t;
    if (ms < min) [min, at] = [ms, i];
  }
  return { ms: min, at, value };
}

/**
 * Throughput measured warm, as JMH measures after its warm-up iterations:
 * `warmUp` rounds first (the first one's time returned as `coldMs`: V8 has
 * not optimized the hot paths yet, nor have worker threads started), then
 * the best of `repeat`.
 */
export async function warmBest(repeat, round, warmUp) {
  const t = performance.now();
  await round();
  const coldMs = performance.now() - t;
  for (let i = 1; i < warmUp; i++) await round();
  return { coldMs, ...(await best(repeat, round)) };
}

/**
 * Several systems timed in turns, as a same-run comparison should be on a
 * machine whose speed drifts (a VM's neighbours): each warmed by `warmUp`
 * rounds, then `repeat` passes that run one round of each, the order turned
 * by one every pass so none always goes first; the best round of each, by
 * name. Timed one system after the other instead, W2's plain piscina and
 * picompute differed by 0.59-1.46× in three runs of the same code here.
 */
export async function interleavedBest(repeat, rounds, warmUp) {
  const names = Object.keys(rounds);
  for (const name of names) for (let i = 0; i < warmUp; i++) await rounds[name]();
  const bestMs = Object.fromEntries(names.map((n) => [n, Infinity]));
  for (let pass = 0; pass < repeat; pass++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(pass + k) % names.length];
      const t = performance.now();
      await rounds[name]();
      bestMs[name] = Math.min(bestMs[name], performance.now() - t);
    }
  }
  return bestMs;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A results table: one row per (workload, system). */
export class Report {
  rows = [];
  notes = [];
  add(workload, system, figure, unit, extra = {}) {
    this.rows.push({ workload, system, figure: Number.isFinite(figure) ? +figure.toPrecision(6) : figure, unit, ...extra });
  }
  note(text) {
    this.notes.push(text);
  }
  get(workload, systemPrefix) {
    return this.rows.find((r) => r.workload === workload && r.system.startsWith(systemPrefix));
  }
}

/**
 * Several whole runs as one report: each row's median figure (and ms), with
 * `range` [min, max] and every run's figure; notes of every run, tagged.
 * Rows are matched by workload and system (the row naming whichever Dask
 * form was best in its run, "picompute / Dask's best (…)", on its prefix).
 */
export function mergeRuns(reports) {
  const merged = new Report();
  const key = (r) => `${r.workload}\u0000${r.system.replace(/ best \(.*$/, ' best')}`;
  const groups = new Map();
  for (const report of reports)
    for (const row of report.rows) {
      const k = key(row);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(row);
    }
  for (const rows of groups.values()) {
    const figures = rows.map((r) => r.figure).filter(Number.isFinite);
    const mid = figures.length ? median(figures) : NaN;
    const last = rows.find((r) => r.figure === mid) ?? rows.at(-1);
    const ms = rows.map((r) => r.ms).filter(Number.isFinite);
    const { workload, system, unit, figure, ...extra } = last;
    merged.add(workload, system, mid, unit, {
      ...extra,
      ...(ms.length ? { ms: median(ms) } : {}),
      range: figures.length ? [Math.min(...figures), Math.max(...figures)] : [],
      runs: rows.map((r) => r.figure),
    });
  }
  reports.forEach((r, i) => {
    for (const n of r.notes) merged.note(`run ${i + 1}: ${n}`);
  });
  return merged;
}

/** A cluster key file for the daemons a benchmark starts. */
export function keyEnv() {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-bench-'));
  const keyFile = join(dir, 'cluster.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return {
    dir,
    keyFile,
    env: {
      ...process.env,
      PICOMPUTE_KEY_FILE: keyFile,
      PICOMPUTE_MDNS: 'off',
      PICOMPUTE_LOG_FORMAT: 'text',
      XDG_STATE_HOME: join(dir, 'state'),
      XDG_CACHE_HOME: join(dir, 'cache'),
    },
  };
}

/**
 * Starts `picompute <args>` and resolves once it logs its address; `nodeArgs` go to node (`--cpu-prof` to
 * profile a daemon); `prefix` is a command the whole command line is handed to (one that enters a cgroup and execs);
 * `cli` another build of the command (an older commit's, to compare with in the same run).
 */
export function daemon(args, env, nodeArgs = [], prefix = [], cli = CLI) {
  return new Promise((resolve, reject) => {
    const line = [process.execPath, ...nodeArgs, cli, ...args];
    const [cmd, ...argv] = [...prefix, ...line];
    const proc = spawn(cmd, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`picompute ${args[0]} did not start: ${out}`)), 15_000);
    proc.stderr.on('data', (d) => {
      out += d;
      // Once: a coordinator logs lines for every job, and searching all it logged on each chunk took this process
      // (the bench's client) ~5 ms of CPU per submit with 10,000 jobs queued, on the cores the coordinator runs on.
      if (proc.address) return;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.address = m[1].replace('0.0.0.0', '127.0.0.1');
        proc.log = () => out;
        resolve(proc);
      }
    });
    proc.on('exit', (code) => reject(new Error(`picompute ${args[0]} exited ${code}: ${out}`)));
  });
}

export function stop(proc, signal = 'SIGTERM') {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.kill(signal);
  });
}

/** User + system CPU time in a /proc `stat` file, ms (clock ticks of 10 ms). */
function statCpuMs(path) {
  const f = readFileSync(path, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100);
}

/** CPU time (user + system) a process has used, ms, from /proc: on a loaded machine it holds where wall time does not. */
export function cpuMs(pid) {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** CPU time each thread of this process has used, ms, by thread id. */
export function threadCpuMs() {
  const cpu = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      cpu.set(tid, statCpuMs(`/proc/self/task/${tid}/stat`));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return cpu;
}

/**
 * Where this process's CPU went between two threadCpuMs() readings, ms: its
 * main thread, its `workers` busiest other threads (the worker threads: Node
 * does not name them), and the rest (V8's garbage-collector and compiler
 * helper threads, libuv's pool). A thread that ended in between is not counted.
 */
export function cpuSplit(before, after, workers) {
  const main = String(process.pid);
  const others = [];
  let mainMs = 0;
  for (const [tid, ms] of after) {
    const used = ms - (before.get(tid) ?? 0);
    if (tid === main) mainMs = used;
    else others.push(used);
  }
  others.sort((a, b) => b - a);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const workerMs = sum(others.slice(0, workers));
  const helperMs = sum(others.slice(workers));
  return { mainMs, workerMs, helperMs, totalMs: mainMs + workerMs + helperMs };
}

/** Runs a command to its end, its output dropped; returns the CPU time it used (user + system, its own children's included), ms, as bash's `times` reports it. */
export function commandCpuMs(command, args, env) {
  const out = execFileSync('bash', ['-c', '"$@" > /dev/null && times', 'bash', command, ...args], { env, encoding: 'utf8' });
  const children = out.trim().split('\n')[1] ?? '';
  const times = children.split(/\s+/).map((t) => /^(\d+)m([\d.]+)s$/.exec(t));
  if (times.length !== 2 || times.some((m) => !m)) throw new Error(`bash's times gave "${out.trim()}", not two lines of user and system time`);
  return times.reduce((ms, m) => ms + (Number(m[1]) * 60 + Number(m[2])) * 1000, 0);
}

/** A process's CPU time (cpuMs) per call over `n` calls of `fn`, one after another, ms. */
export async function cpuMsPerCall(pid, fn, n = 20) {
  const cpu0 = cpuMs(pid);
  for (let i = 0; i < n; i++) await fn();
  return (cpuMs(pid) - cpu0) / n;
}

/**
 * One echo job of `tasks` tasks (benchmarks/jobs/echo.ts) through `client`,
 * its answer checked: the job's wall time, the client's, and the
 * coordinator process's CPU per task, µs (the simulated agents and the client
 * share the machine with it: its own CPU says what it could do with a core
 * to itself).
 */
export async function echoRound(client, coordinatorPid, tasks) {
  const t = performance.now();
  const cpu0 = cpuMs(coordinatorPid);
  const job = await client.submit(here('jobs/echo.ts'), { args: { tasks: String(tasks) } });
  const out = await job.result();
  const clientMs = performance.now() - t;
  const coordinatorUsPerTask = ((cpuMs(coordinatorPid) - cpu0) * 1000) / tasks;
  if (out.length !== tasks || out[tasks - 1] !== tasks - 1) throw new Error(`an echo job of ${tasks} tasks gave a wrong answer`);
  const { wallMs } = await job.done();
  return { wallMs, clientMs, coordinatorUsPerTask };
}

/**
 * Waits (at most `maxMs`) until process `pid` uses no more CPU than `idle` (a
 * fraction of a core) and a little more, over half-second windows: after a
 * burst of work its garbage is still being collected, and a figure taken then
 * measures the burst, not the state it left. Returns the ms waited.
 */
export async function quiet(pid, idle, maxMs = 20_000) {
  const t = performance.now();
  for (;;) {
    const cpu0 = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 500));
    if ((cpuMs(pid) - cpu0) / 500 <= idle * 1.5 + 0.02 || performance.now() - t > maxMs) return performance.now() - t;
  }
}

/** The median wall time of `n` calls of `fn`, one after another, ms. */
export async function timed(fn, n = 5) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

export function rssMiB(pid) {
  return statusMiB(pid, 'VmRSS');
}

/**
 * RSS in its two kinds: anonymous (the process's own heap, stacks and
 * buffers) and file-backed (pages of the node binary and other mapped files:
 * shared with every process that maps them, and the kernel may drop them).
 */
export function rssKinds(pid) {
  return { anonMiB: +statusMiB(pid, 'RssAnon').toFixed(1), fileMiB: +statusMiB(pid, 'RssFile').toFixed(1) };
}

function statusMiB(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]) / 1024;
}

/**
 * Memory only this process holds (USS: private pages), MiB. RSS also counts
 * the pages of the node binary a process has touched (~30 MiB for a bare
 * `node`, ~40 for a daemon), which every Node process on the machine shares
 * and the kernel can drop and reread.
 */
export function ussMiB(pid) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(rollup)[1]);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}

export function runCli(args, env) {
  return new Promise((resolve) => {
    const t = performance.now();
    const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('exit', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t }));
  });
}

/** A job file's bundle (what agents run) and its exports, so baselines run the very same code. */
export async function bundleExports(file) {
  const bundle = await bundleJob(file);
  const url = pathToFileURL(await writeBundleFile(bundle.code, bundle.hash, here('results/bundles'))).href;
  return { url, exports: await import(url) };
}
