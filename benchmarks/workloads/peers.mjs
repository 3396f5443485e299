/**
 * The peers (with --peers): Dask distributed and Slurm on this machine, same
 * workloads and inputs, each installed and started by the benchmark and
 * stopped by it. A peer that cannot be started is reported as such.
 */
import { corpusFile } from '../lib/corpus.mjs';
import { ensureDask, runDask } from '../peers/dask.mjs';
import { reportDaskKeyed } from '../peers/dask-keyed.mjs';
import { ensureSlurm, runSlurm } from '../peers/slurm.mjs';

/** picompute's figure (the row whose system starts with `ours`) over the peer's, as "2.5×" (above 1: picompute ahead). */
const ratio = (report, workload, ours, theirs, higherIsBetter) => {
  const a = report.get(workload, ours)?.figure;
  if (!Number.isFinite(a) || !Number.isFinite(theirs)) return 'n/a';
  return `${(higherIsBetter ? a / theirs : theirs / a).toFixed(1)}×`;
};

/** What killing a node cost, s: the killed run's wall time minus the unharmed one's. */
const killCost = (killedMs, cleanMs) => {
  const s = (killedMs - cleanMs) / 1000;
  return `${s < 0 ? '−' : '+'}${Math.abs(s).toFixed(1)} s`;
};

/** The same for picompute, from the W6 rows of this run. */
const ourKillCost = (report) => {
  const [clean, killed] = [report.get('W6 agent killed', 'picompute, unharmed'), report.get('W6 agent killed', 'picompute, one agent')];
  return clean && killed ? killCost(killed.figure, clean.figure) : 'n/a';
};

/** `--only W7 --peers` (W7 and none of W1–W6): the peers run only Dask's keyed forms; otherwise everything, as before. */
const keyedOnly = (chosen) => (chosen ?? []).includes('W7') && !(chosen ?? []).some((w) => /^W[1-6]$/.test(w));

export async function run({ cores, quick, report, chosen }) {
  const corpus = corpusFile(quick ? 2 : 50);
  const daskProblem = ensureDask();
  if (daskProblem) report.note(daskProblem);
  else if (keyedOnly(chosen)) {
    const d = await runDask({ cores, quick, corpus, workloads: ['W7'] });
    await reportDaskKeyed(report, d.W7, corpus);
  } else {
    const d = await runDask({ cores, quick, corpus });
    await reportDaskKeyed(report, d.W7, corpus);
    report.add('W1 tiny tasks', `Dask (${cores} single-threaded workers)`, d.W1.tasks_per_s, 'tasks/s', { ms: +d.W1.ms.toFixed(1) });
    report.add('W2 Monte Carlo π', `Dask (pure Python, ${d.W2.tasks} × ${d.W2.points} points)`, d.W2.efficiency, 'efficiency', { ms: +d.W2.ms.toFixed(0) });
    report.add('W3 word count', 'Dask bag', d.W3.bag_mb_s, 'MB/s', { ms: +d.W3.bag_ms.toFixed(0) });
    report.add('W3 word count', 'Dask, one Counter per partition', d.W3.counter_mb_s, 'MB/s', { ms: +d.W3.counter_ms.toFixed(0) });
    report.add('W4 one trivial job', 'Dask, connected (median)', d.W4.median_ms, 'ms');
    report.add('W4 one trivial job', 'Dask, new process', d.W4.newProcessMs, 'ms');
    report.add('W6 agent killed', `Dask, unharmed (pure Python, ${d.W6.tasks} × ${d.W6.points} points)`, d.W6.clean_ms, 'ms');
    report.add('W6 agent killed', `Dask, one worker SIGKILLed ${d.W6.kill_at} s in (its nanny restarts it)`, d.W6.killed_ms, 'ms');
    report.add('W5 idle footprint', 'Dask scheduler', d.W5.schedulerMiB, 'MiB RSS');
    report.add('W5 idle footprint', 'Dask worker', d.W5.workerMiB, 'MiB RSS');
    report.add('W5 idle footprint', 'Dask nanny process', d.W5.nannyMiB, 'MiB RSS');
    report.note(
      `vs Dask (above 1×: picompute ahead): W1 ${ratio(report, 'W1 tiny tasks', 'picompute', d.W1.tasks_per_s, true)} the task rate (target ≥ 50×), ` +
        `W2 ${ratio(report, 'W2 Monte Carlo π', 'picompute', d.W2.efficiency, true)} the efficiency, ` +
        `W3 ${ratio(report, 'W3 word count', 'picompute', d.W3.counter_mb_s, true)} its best form (target ≥ 2×), ` +
        `W4 ${ratio(report, 'W4 one trivial job', 'picompute SDK', d.W4.median_ms, false)} connected and ${ratio(report, 'W4 one trivial job', 'picompute CLI', d.W4.newProcessMs, false)} from a new process, ` +
        `W5 ${ratio(report, 'W5 idle footprint', 'picompute agent, idle', d.W5.workerMiB + d.W5.nannyMiB, false)} less memory per node (agent vs worker + nanny), ` +
        `W6 a kill cost ${ourKillCost(report)} here, ${killCost(d.W6.killed_ms, d.W6.clean_ms)} there`,
    );
  }
  // Slurm runs W1–W6 only: nothing of it to run for `--only W7 --peers`.
  if (keyedOnly(chosen)) return;
  const slurmProblem = ensureSlurm();
  if (slurmProblem) report.note(slurmProblem);
  else {
    const s = await runSlurm({ cores, quick, corpus });
    report.add('W1 tiny tasks', `Slurm job array (${s.W1.tasks} tasks)`, s.W1.tasks_per_s, 'tasks/s', { ms: +s.W1.ms.toFixed(0) });
    report.add('W2 Monte Carlo π', `Slurm job array (${s.W2.tasks} × node)`, s.W2.efficiency, 'efficiency', { ms: +s.W2.ms.toFixed(0) });
    report.add('W3 word count', 'Slurm job array (1 MiB per task)', s.W3.mb_s, 'MB/s', { ms: +s.W3.ms.toFixed(0) });
    report.add('W6 agent killed', `Slurm, unharmed (${s.W6.tasks} × node)`, s.W6.cleanMs, 'ms');
    report.add('W6 agent killed', `Slurm, slurmd SIGKILLed ${s.W6.killAt / 1000} s in and restarted`, s.W6.killedMs, 'ms');
    report.add('W4 one trivial job', 'Slurm srun (median)', s.W4.srunMs, 'ms');
    report.add('W4 one trivial job', 'Slurm sbatch --wait', s.W4.sbatchMs, 'ms');
    report.add('W5 idle footprint', 'slurmctld', s.W5.slurmctldMiB, 'MiB RSS');
    report.add('W5 idle footprint', 'slurmd', s.W5.slurmdMiB, 'MiB RSS');
    report.note(
      `vs Slurm (above 1×: picompute ahead): W1 ${ratio(report, 'W1 tiny tasks', 'picompute', s.W1.tasks_per_s, true)}, W2 ${ratio(report, 'W2 Monte Carlo π', 'picompute', s.W2.efficiency, true)} the efficiency, ` +
        `W3 ${ratio(report, 'W3 word count', 'picompute', s.W3.mb_s, true)}, W4 ${ratio(report, 'W4 one trivial job', 'picompute SDK', s.W4.srunMs, false)} srun's latency (CLI from a new process ${ratio(report, 'W4 one trivial job', 'picompute CLI', s.W4.srunMs, false)} srun's, ${ratio(report, 'W4 one trivial job', 'picompute CLI', s.W4.sbatchMs, false)} sbatch --wait's), ` +
        `W5 ${ratio(report, 'W5 idle footprint', 'picompute agent, idle', s.W5.slurmdMiB, false)} slurmd's memory, W6 a kill cost ${ourKillCost(report)} here, ${killCost(s.W6.killedMs, s.W6.cleanMs)} there`,
    );
    report.note(`Slurm settings: ${s.settings}`);
  }
}
