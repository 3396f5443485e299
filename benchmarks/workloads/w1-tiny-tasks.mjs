/** W1: 10,000 tiny tasks returning their input, end to end on a warm embedded cluster, against plain piscina. */
import { Piscina } from 'piscina';
import { best, here } from '../lib/harness.mjs';
import { withDaemons } from '../lib/daemons.mjs';
import { runJob, withLocalCluster } from '../lib/local.mjs';

export async function run({ quick, cores, repeat, report }) {
  const tasks = quick ? 2000 : 10_000;
  const job = here('jobs/echo.ts');
  await withLocalCluster(cores, async (client) => {
    await runJob(client, job, { tasks: '100' });
    // CPU this process spent (every thread: client, coordinator, agent, workers): on a shared machine it
    // moves far less than wall time does, so it is the figure to compare between runs.
    const cpu = process.cpuUsage();
    const r = await best(repeat, async () => {
      const out = await runJob(client, job, { tasks: String(tasks) });
      if (out.length !== tasks || out[tasks - 1] !== tasks - 1) throw new Error('W1 gave a wrong answer');
    });
    const { user, system } = process.cpuUsage(cpu);
    report.add('W1 tiny tasks', 'picompute (embedded)', (tasks / r.ms) * 1000, 'tasks/s', {
      ms: +r.ms.toFixed(1),
      usPerTask: +((r.ms * 1000) / tasks).toFixed(2),
      cpuUsPerTask: +((user + system) / (repeat * tasks)).toFixed(2),
    });
  });
  // Real daemons: a coordinator and an agent process on loopback (durable state, the key's TLS), the SDK submitting.
  await withDaemons(cores, async (client) => {
    const r = await best(repeat, async () => {
      const out = await runJob(client, job, { tasks: String(tasks) });
      if (out.length !== tasks || out[tasks - 1] !== tasks - 1) throw new Error('W1 over real daemons gave a wrong answer');
    });
    report.add('W1 tiny tasks', 'picompute (real daemons, loopback)', (tasks / r.ms) * 1000, 'tasks/s', { ms: +r.ms.toFixed(1) });
  });
  const pool = new Piscina({ filename: here('baselines/noop-worker.mjs'), minThreads: cores, maxThreads: cores });
  await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run(i)));
  const p = await best(repeat, () => Promise.all(Array.from({ length: tasks }, (_, i) => pool.run(i))));
  report.add('W1 tiny tasks', `plain piscina (${cores} threads, a call per task)`, (tasks / p.ms) * 1000, 'tasks/s', { ms: +p.ms.toFixed(1) });
  await pool.destroy();
  const ours = report.get('W1 tiny tasks', 'picompute (embedded)');
  const daemons = report.get('W1 tiny tasks', 'picompute (real daemons');
  const rate = (tasks / p.ms) * 1000;
  report.note(
    `W1: picompute runs ${(ours.figure / rate).toFixed(2)}× plain piscina's task rate embedded, ${(daemons.figure / rate).toFixed(2)}× through real daemons (targets ≥ 100,000 and ≥ 50,000 tasks/s; batches of tiny tasks share one message and one thread hop)`,
  );
}
