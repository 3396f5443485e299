/**
 * CPU per task of each real daemon while W1 runs through them (a coordinator and an agent process on loopback,
 * the key's TLS, durable state, this process submitting):
 *
 *   node benchmarks/profile-w1.mjs [runs] [--cli path/to/picompute.mjs] [--cpu-prof DIR]
 *
 * `--cli` runs the daemons of another build (say an older commit's, built elsewhere), to compare in turns on a
 * busy machine; `--cpu-prof` writes each daemon's profiles (every thread's) under DIR/agent and DIR/coordinator.
 * CPU time comes from /proc (utime + stime) around the runs: on a loaded machine it holds where wall time does not.
 * "other threads" are V8's helpers (mostly garbage collection) and, in the agent, the worker threads.
 */
import { readFileSync } from 'node:fs';
import { parseKey } from '@picompute/sdk/auth';
import { connect } from '@picompute/sdk/client';
import { CLI, daemon, here, keyEnv, stop } from './lib/harness.mjs';

const flag = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const runs = Number(/^\d+$/.test(process.argv[2] ?? '') ? process.argv[2] : 5);
const cli = flag('--cli') ?? CLI;
const profDir = flag('--cpu-prof');
const nodeArgs = (name) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}/${name}`] : []);
const tasks = 10_000;

/** CPU µs so far of one thread, or of the whole process. */
const ticks = (pid, thread = '') => {
  const f = readFileSync(`/proc/${pid}${thread && `/task/${thread}`}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // clock ticks (100 Hz) to µs
};
const cpu = (pid) => ({ all: ticks(pid), main: ticks(pid, String(pid)) });
const perTask = (pid, before, n) => {
  const now = cpu(pid);
  return {
    total: +((now.all - before.all) / n).toFixed(2),
    main: +((now.main - before.main) / n).toFixed(2),
    other: +((now.all - now.main - before.all + before.main) / n).toFixed(2),
  };
};

const { env, keyFile } = keyEnv();
const security = { key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) };
const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '2'], env, nodeArgs('agent'), [], cli);
const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address], env, nodeArgs('coordinator'), [], cli);
const client = await connect({ coordinator: coordinator.address, security });
const job = here('jobs/echo.ts');
await (await client.submit(job, { args: { tasks: '100' } })).result();
await (await client.submit(job, { args: { tasks: String(tasks) } })).result();
const c0 = cpu(coordinator.pid);
const a0 = cpu(agent.pid);
const me0 = process.cpuUsage();
let bestMs = Infinity;
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const out = await (await client.submit(job, { args: { tasks: String(tasks) } })).result();
  bestMs = Math.min(bestMs, performance.now() - t);
  if (out.length !== tasks || out[tasks - 1] !== tasks - 1) throw new Error('W1 gave a wrong answer');
}
const me = process.cpuUsage(me0);
const n = runs * tasks;
console.log(
  JSON.stringify({
    cli: cli === CLI ? 'this build' : cli,
    tasksPerS: Math.round((tasks / bestMs) * 1000),
    cpuUsPerTask: { coordinator: perTask(coordinator.pid, c0, n), agent: perTask(agent.pid, a0, n), client: +((me.user + me.system) / n).toFixed(2) },
  }),
);
client.close();
// SIGINT lets --cpu-prof write its profiles.
await Promise.all([stop(agent, 'SIGINT'), stop(coordinator, 'SIGINT')]);
