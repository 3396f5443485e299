/**
 * W1: 10,000 tiny tasks returning their input, end to end, against plain
 * piscina. Throughput is measured warm, as JMH measures after its warm-up
 * iterations (5 by default): every system first runs WARM_UP full-size rounds (V8 has then
 * optimized the hot paths; the first 10,000-task job after a start runs at
 * a third to a quarter of the warm rate here), then the best of `repeat`.
 * The first job's rate is printed too, as its own row.
 */
import { Piscina } from 'piscina';
import { here, warmBest } from '../lib/harness.mjs';
import { withDaemons } from '../lib/daemons.mjs';
import { runJob, withLocalCluster } from '../lib/local.mjs';

export const WARM_UP = 5;

export async function run({ quick, cores, repeat, report }) {
  const tasks = quick ? 2000 : 10_000;
  const job = here('jobs/echo.ts');
  const rate = (ms) => (tasks / ms) * 1000;
  const echo = (client, where) => async () => {
    const out = await runJob(client, job, { tasks: String(tasks) });
    if (out.length !== tasks || out[tasks - 1] !== tasks - 1) throw new Error(`W1 ${where} gave a wrong answer`);
  };
  const cold = (system, ms) => report.add('W1 tiny tasks', `${system}: first job after start (V8 cold)`, rate(ms), 'tasks/s', { ms: +ms.toFixed(1) });
  await withLocalCluster(cores, async (client) => {
    // CPU this process spent (every thread: client, coordinator, agent, workers) in the measured rounds: on a
    // shared machine it moves far less than wall time does, so it is the figure to compare between runs.
    let rounds = 0;
    let cpu;
    const r = await warmBest(
      repeat,
      async () => {
        if (++rounds === 2) cpu = process.cpuUsage();
        await echo(client, 'embedded')();
      },
      WARM_UP,
    );
    const { user, system } = process.cpuUsage(cpu);
    report.add('W1 tiny tasks', 'picompute (embedded)', rate(r.ms), 'tasks/s', {
      ms: +r.ms.toFixed(1),
      usPerTask: +((r.ms * 1000) / tasks).toFixed(2),
      cpuUsPerTask: +((user + system) / ((rounds - 1) * tasks)).toFixed(2),
    });
    cold('picompute (embedded)', r.coldMs);
  });
  // Real daemons: a coordinator and an agent process on loopback (durable state, the key's TLS), the SDK submitting.
  await withDaemons(cores, async (client) => {
    const r = await warmBest(repeat, echo(client, 'over real daemons'), WARM_UP);
    report.add('W1 tiny tasks', 'picompute (real daemons, loopback)', rate(r.ms), 'tasks/s', { ms: +r.ms.toFixed(1) });
    cold('picompute (real daemons, loopback)', r.coldMs);
  });
  const pool = new Piscina({ filename: here('baselines/noop-worker.mjs'), minThreads: cores, maxThreads: cores });
  const p = await warmBest(repeat, () => Promise.all(Array.from({ length: tasks }, (_, i) => pool.run(i))), WARM_UP);
  report.add('W1 tiny tasks', `plain piscina (${cores} threads, a call per task)`, rate(p.ms), 'tasks/s', { ms: +p.ms.toFixed(1) });
  cold('plain piscina', p.coldMs);
  await pool.destroy();
  const ours = report.get('W1 tiny tasks', 'picompute (embedded)');
  const daemons = report.get('W1 tiny tasks', 'picompute (real daemons');
  const piscina = rate(p.ms);
  report.note(
    `W1 (warm, after ${WARM_UP - 1} full rounds beyond a first cold one): picompute runs ${(ours.figure / piscina).toFixed(2)}× plain piscina's task rate embedded, ${(daemons.figure / piscina).toFixed(2)}× through real daemons (targets ≥ 100,000 and ≥ 50,000 tasks/s; batches of tiny tasks share one message and one thread hop)`,
  );
}
