// What many queued jobs cost a real coordinator process: `queue` (ListJobs of
// the active jobs, as `picompute queue` asks), a submit of a 1-task job that
// runs, and RSS per queued job. Two simulated agents (benchmarks/lib/fake-agents.mjs):
// one labelled `run` answers tasks, one labelled `hold` never does, so jobs that want `hold`
// stay queued (PENDING Resources) — the tail of `pnpm bench -- --scale`
// without its 1,000 agents.
//
//   node benchmarks/queued-jobs.mjs [N=10000] [--agents M] [--watching] [--json] [--heap-snapshot] [--cpu-prof] [--verbose] [--cli path/to/picompute.mjs]
//
// --heap-snapshot writes the coordinator's heap (after N jobs) to a
// .heapsnapshot file in its working directory (benchmarks/results/), to see
// what holds the memory; --cpu-prof writes its CPU profile there on exit; --cli runs another build's
// coordinator (an older commit's, to compare in turns on a busy machine); --agents M adds M more idle
// simulated agents (as --scale has 1,000 while it queues its jobs).
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { connect, prepareJob } from '@picompute/sdk/client';
import { parseKey } from '@picompute/sdk/auth';
import { CLI, cpuMsPerCall, daemon, here, keyEnv, rssMiB, stop, timed, ussMiB } from './lib/harness.mjs';

const n = Number(process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--agents') ?? 10_000);
const flag = (f) => process.argv.includes(f);
const progress = (what) => flag('--verbose') && console.error(`[queued-jobs] ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { env, keyFile } = keyEnv();
const security = () => ({ key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) });
const out = here('results');
mkdirSync(out, { recursive: true });
const nodeArgs = [
  ...(flag('--heap-snapshot') ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${out}`] : []),
  ...(flag('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${out}`] : []),
];

const cli = process.argv.includes('--cli') ? process.argv[process.argv.indexOf('--cli') + 1] : CLI;
const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0'], env, nodeArgs, [], cli);
const fakes = fork(here('lib/fake-agents.mjs'), [JSON.stringify({ coordinator: coordinator.address, keyFile })], {
  env,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const client = await connect({ coordinator: coordinator.address, security: security() });
try {
  await new Promise((r) => fakes.once('message', r));
  progress(`coordinator at ${coordinator.address}; starting agents`);
  for (const labels of [['run'], ['hold']]) {
    await new Promise((r) => {
      fakes.once('message', r);
      fakes.send({ add: 1, labels });
    });
  }
  const more = process.argv.includes('--agents') ? Number(process.argv[process.argv.indexOf('--agents') + 1]) : 0;
  if (more) await new Promise((r) => (fakes.once('message', r), fakes.send({ add: more, labels: [] })));
  for (let t = 0; (await client.nodes()).filter((x) => x.state === 'idle').length < 2 + more; t++) {
    if (t > 600) throw new Error(`the ${2 + more} simulated agents did not come up`);
    await sleep(100);
  }
  progress('agents up');
  const one = await prepareJob(here('jobs/trivial.ts'), { constraint: 'run' });
  const held = await prepareJob(here('jobs/trivial.ts'), { constraint: 'hold' });
  const submitOne = async () => (await client.submitPrepared(one)).result();
  const submit = () => timed(submitOne);
  const submitCpu = () => cpuMsPerCall(coordinator.pid, submitOne);
  const queue = () => timed(() => client.jobs({ active: true }));
  await submit(); // warm: the bundle goes up once
  const before = { submitMs: await submit(), submitCpuMs: await submitCpu(), queueMs: await queue(), rssMiB: rssMiB(coordinator.pid) };
  progress(`before: ${JSON.stringify(before)}`);
  const t = performance.now();
  // As `picompute submit --no-wait` (sbatch): each submit's watch stream is ended once the job has its id, the
  // job stays queued. With --watching the streams stay open (a script awaiting 10,000 jobs), from clients of 500
  // each (one HTTP/2 connection holding thousands of open streams hits its session memory limit).
  const watching = flag('--watching');
  const submitHeld = async (holder) => {
    const job = await holder.submitPrepared(held);
    if (!watching) for await (const _ of job.events()) break;
  };
  for (let at = 0; at < n; at += 500) {
    const holder = await connect({ coordinator: coordinator.address, security: security() });
    const end = Math.min(n, at + 500);
    for (let i = at; i < end; i += 50) await Promise.all(Array.from({ length: Math.min(50, end - i) }, () => submitHeld(holder)));
    holder.close();
    progress(`${end} submitted`);
  }
  const submitAllMs = performance.now() - t;
  await sleep(1000);
  const { jobs } = await client.jobs({ active: true });
  if (jobs.length < n) throw new Error(`${jobs.length} active jobs, not ${n}`);
  const after = { submitMs: await submit(), submitCpuMs: await submitCpu(), queueMs: await queue(), rssMiB: rssMiB(coordinator.pid) };
  // V8 gives back the pages of the submits' garbage only once the process idles (its memory reducer): RSS again later.
  await sleep(10_000);
  const rssSettledMiB = rssMiB(coordinator.pid);
  const figures = {
    queued: n,
    watching,
    queueMs: { before: +before.queueMs.toFixed(1), after: +after.queueMs.toFixed(1) },
    submitMs: { before: +before.submitMs.toFixed(1), after: +after.submitMs.toFixed(1) },
    coordinatorCpuMsPerSubmit: { before: +before.submitCpuMs.toFixed(1), after: +after.submitCpuMs.toFixed(1) },
    rssMiB: { before: +before.rssMiB.toFixed(0), after: +after.rssMiB.toFixed(0), tenSecondsLater: +rssSettledMiB.toFixed(0) },
    privateMiB: +ussMiB(coordinator.pid).toFixed(0),
    rssBytesPerJob: Math.round(((rssSettledMiB - before.rssMiB) * 2 ** 20) / n),
    submitRate: Math.round((n / submitAllMs) * 1000),
    reasons: [...new Set(jobs.map((j) => `${j.state} ${j.reason}`.trim()))],
  };
  if (flag('--heap-snapshot')) {
    const had = new Set(readdirSync(out));
    coordinator.kill('SIGUSR2');
    let file;
    for (let i = 0; i < 600 && !file; i++) {
      await sleep(500);
      file = readdirSync(out).find((f) => f.endsWith('.heapsnapshot') && !had.has(f));
    }
    await sleep(2000); // the file is named before it is whole
    figures.heapSnapshot = file && `${out}/${file}`;
    // Writing the snapshot collected all garbage first: what RSS is left is held, not merely not yet freed.
    figures.rssAfterFullGcMiB = +rssMiB(coordinator.pid).toFixed(0);
  }
  if (flag('--json')) console.log(JSON.stringify(figures));
  else {
    const f = figures;
    console.log(
      `${n.toLocaleString('en-US')} queued jobs${watching ? ', each watched' : ''} (${f.reasons.join(', ')}): queue ${f.queueMs.before} → ${f.queueMs.after} ms, ` +
        `1-task submit ${f.submitMs.before} → ${f.submitMs.after} ms (medians of 5), coordinator CPU per submit ${f.coordinatorCpuMsPerSubmit.before} → ${f.coordinatorCpuMsPerSubmit.after} ms; coordinator RSS ${f.rssMiB.before} → ${f.rssMiB.after} MiB, ${f.rssMiB.tenSecondsLater} MiB 10 s later ` +
        `(${f.privateMiB} MiB private), ${f.rssBytesPerJob} bytes/queued job; submitted at ${f.submitRate} jobs/s` +
        (f.heapSnapshot ? `\nheap snapshot: ${f.heapSnapshot}; RSS after the full GC it made: ${f.rssAfterFullGcMiB} MiB` : ''),
    );
  }
} finally {
  client.close();
  fakes.kill('SIGKILL');
  await stop(coordinator);
}
