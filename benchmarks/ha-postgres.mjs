// The coordinator over PostgreSQL (see the README's "High availability"):
//  - takeover: two coordinator processes on one database; SIGKILL the leader,
//    time until the standby logs that it leads; the killed one comes back as
//    the next standby; N kills.
//  - submit latency: a small job's submit until its acknowledgement (the job
//    is committed: SQLite fsynced, or PostgreSQL committed), PostgreSQL
//    versus SQLite, in this process, median of M.
//
//   node benchmarks/ha-postgres.mjs [--kills 10] [--submits 50] [--lease 3s] [--history 0] [--json]
//
// --history N: N queued jobs of 1000 tasks each in the database before the
// kills (no agents, so they stay queued), to see a takeover's load time grow.
//
// PostgreSQL runs on this machine (loopback, fsync on): a database on another
// host adds its round trips to every commit.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCoordinator } from '@picompute/coordinator';
import { prepareJob } from '@picompute/sdk/prepare';
import { connect } from '@picompute/sdk/client';
import { startPostgres } from './lib/postgres.mjs';

const { values: o } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    submits: { type: 'string', default: '50' },
    lease: { type: 'string', default: '3s' },
    history: { type: 'string', default: '0' },
    json: { type: 'boolean' },
  },
});
const cli = new URL('../packages/cli/dist/bin/picompute.mjs', import.meta.url).pathname;
const job = new URL('./jobs/trivial.ts', import.meta.url).pathname;
const stateDir = () => mkdtempSync(join(tmpdir(), 'picompute-bench-ha-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function coordinator(url) {
  const proc = spawn(
    process.execPath,
    [
      cli,
      'coordinator',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--no-dashboard',
      '--no-mdns',
      '--state',
      url,
      '--state-dir',
      stateDir(),
      '--lease',
      o.lease,
      '--log-format',
      'text',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const waiters = new Set();
  const onData = (d) => {
    out += d;
    for (const w of waiters) w();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const waitFor = (re, from = 0) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within 60 s:\n${out}`)), 60_000);
      const check = () => {
        if (re.test(out.slice(from))) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(performance.now());
        }
      };
      waiters.add(check);
      check();
    });
  return {
    proc,
    waitFor,
    address: () => /coordinator listening on (\S+)/.exec(out)?.[1],
    loadedMs: () => Number([...out.matchAll(/loaded \d+ row\(s\) from the state database in (\d+) ms/g)].at(-1)?.[1]),
    recoveredMs: () => Number([...out.matchAll(/recovered \d+ unfinished job\(s\) from the state database in (\d+) ms/g)].at(-1)?.[1] ?? 0),
    get length() {
      return out.length;
    },
  };
}

const pg = await startPostgres();
const results = {};
try {
  // Takeover.
  const url = pg.database();
  let leader = coordinator(url);
  await leader.waitFor(/leading \(epoch/);
  if (Number(o.history)) {
    const address = /coordinator listening on (\S+)/;
    await leader.waitFor(address);
    const client = await connect({ coordinator: leader.address(), security: {} });
    const queued = await prepareJob(new URL('./jobs/echo.ts', import.meta.url).pathname, { args: { tasks: '1000' } });
    for (let i = 0; i < Number(o.history); i++) await client.submitPrepared(queued);
    client.close();
  }
  let standby = coordinator(url);
  await standby.waitFor(/standby listening on/);
  const takeovers = [];
  const loads = [];
  const rebuilds = [];
  for (let i = 0; i < Number(o.kills); i++) {
    const mark = standby.length;
    const killed = performance.now();
    leader.proc.kill('SIGKILL');
    const led = await standby.waitFor(/leading \(epoch/, mark);
    takeovers.push(led - killed);
    loads.push(standby.loadedMs());
    // Its jobs are rebuilt after the log line above (in slices, the lease renewed meanwhile): until then it answers nobody.
    if (Number(o.history)) await standby.waitFor(/recovered \d+ unfinished job/, mark);
    rebuilds.push(standby.recoveredMs());
    leader = standby;
    standby = coordinator(url);
    await standby.waitFor(/standby listening on/);
  }
  leader.proc.kill('SIGKILL');
  standby.proc.kill('SIGKILL');
  results.takeoverMs = {
    lease: o.lease,
    queuedTasks: Number(o.history) * 1000,
    loadMedian: median(loads),
    rebuildMedian: median(rebuilds),
    kills: takeovers.length,
    min: Math.min(...takeovers),
    median: median(takeovers),
    max: Math.max(...takeovers),
    each: takeovers.map(Math.round),
  };

  // Submit latency.
  for (const [name, state] of [
    ['SQLite', { stateDir: stateDir() }],
    ['PostgreSQL', { stateUrl: pg.database(), stateDir: stateDir() }],
  ]) {
    const c = await startCoordinator({ port: 0, ...state, log: () => {} });
    const client = await connect({ coordinator: c.address, security: {} });
    const times = [];
    // Prepared once (bundled, inputs packed): what is timed is the Submit call until the job is committed and acknowledged.
    const prepared = await prepareJob(job);
    await client.submitPrepared(prepared);
    for (let i = 0; i < Number(o.submits); i++) {
      const t = performance.now();
      await client.submitPrepared(prepared);
      times.push(performance.now() - t);
    }
    client.close();
    await c.close();
    results[`submit${name}Ms`] = { submits: times.length, median: median(times), p90: [...times].sort((a, b) => a - b)[Math.floor(times.length * 0.9)] };
  }
} finally {
  pg.stop();
}
if (o.json) console.log(JSON.stringify(results));
else {
  const t = results.takeoverMs;
  console.log(
    `takeover after SIGKILL of the leader (lease ${t.lease}, ${t.kills} kills, ${t.queuedTasks} queued tasks): min ${t.min.toFixed(0)} ms, median ${t.median.toFixed(0)} ms, max ${t.max.toFixed(0)} ms; of it loading the state, median ${t.loadMedian} ms; then rebuilding its jobs, median ${t.rebuildMedian} ms`,
  );
  for (const name of ['SQLite', 'PostgreSQL']) {
    const s = results[`submit${name}Ms`];
    console.log(`submit until acknowledged, state in ${name}: median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms (${s.submits} submits)`);
  }
}
process.exit(0);
