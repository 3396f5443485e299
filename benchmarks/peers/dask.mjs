/**
 * Dask distributed as a peer: Debian's python3-distributed, a scheduler and
 * one single-threaded worker per core, all on loopback (dashboards too), run
 * by this benchmark and stopped by it. Returns undefined (and says why) when
 * Dask cannot be started here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { here, rssMiB, stop } from '../lib/harness.mjs';

const PYTHON = '/usr/bin/python3';

export function ensureDask() {
  // dask.dataframe (W7's groupby) needs pandas, which python3-dask only recommends.
  const ok = () => existsSync(PYTHON) && spawnOk(PYTHON, ['-c', 'import distributed, dask.dataframe']);
  if (ok()) return undefined;
  if (process.getuid?.() === 0) {
    try {
      execFileSync(
        'sh',
        ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-distributed python3-pandas'],
        {
          stdio: 'ignore',
          timeout: 600_000,
        },
      );
    } catch {}
  }
  return ok()
    ? undefined
    : 'Dask could not be started: /usr/bin/python3 with python3-distributed and python3-pandas is not installed (apt-get install python3-distributed python3-pandas)';
}

function spawnOk(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function started(proc, pattern) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dask did not start: ${out.slice(-500)}`)), 60_000);
    const on = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? m[0]);
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
  });
}

/** `workloads`: which of W1–W7 to run (the Python script's names); default all. */
export async function runDask({ cores, quick, corpus, workloads = [] }) {
  const env = { ...process.env, DASK_DISTRIBUTED__WORKER__DAEMON: 'False' };
  const scheduler = spawn('dask-scheduler', ['--host', '127.0.0.1', '--port', '0', '--dashboard-address', '127.0.0.1:0'], { env });
  const procs = [scheduler];
  try {
    const address = await started(scheduler, /Scheduler at:\s+(tcp:\/\/\S+)/);
    const workers = spawn('dask-worker', [address, '--nworkers', String(cores), '--nthreads', '1', '--host', '127.0.0.1', '--no-dashboard'], { env });
    procs.push(workers);
    let seen = 0;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('dask workers did not start')), 60_000);
      const on = (d) => {
        seen += (String(d).match(/Registered to:/g) ?? []).length;
        if (seen >= cores) {
          clearTimeout(timer);
          resolve();
        }
      };
      workers.stdout.on('data', on);
      workers.stderr.on('data', on);
    });
    const t = performance.now();
    const figures = JSON.parse(
      execFileSync(PYTHON, [here('peers/dask_bench.py'), address, corpus, quick ? '1' : '0', workloads.join(',')], {
        env,
        maxBuffer: 1 << 26,
        timeout: 1_800_000,
      }).toString(),
    );
    figures.wallMs = performance.now() - t;
    const fresh = Date.now();
    // New-process latency: connect, one task, result.
    const p = performance.now();
    execFileSync(
      PYTHON,
      ['-c', `from distributed import Client\nc = Client(${JSON.stringify(address)})\nassert c.submit(lambda x: x, 21, pure=False).result() == 21\nc.close()`],
      { env, stdio: 'ignore' },
    );
    if (figures.W4) figures.W4.newProcessMs = performance.now() - p;
    void fresh;
    const children = execFileSync('sh', ['-c', `pgrep -P ${workers.pid} || true`])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    figures.W5 = { schedulerMiB: rssMiB(scheduler.pid), nannyMiB: rssMiB(workers.pid), workerMiB: children.length ? Math.max(...children.map(rssMiB)) : NaN };
    return figures;
  } finally {
    for (const p of procs.reverse()) await stop(p, 'SIGTERM');
  }
}
