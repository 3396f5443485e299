/**
 * The peers (with --peers): Dask distributed and Slurm on this machine, same
 * workloads and inputs, each installed and started by the benchmark and
 * stopped by it. A peer that cannot be started is reported as such.
 */
import { corpusFile } from '../lib/corpus.mjs';
import { ensureDask, runDask } from '../peers/dask.mjs';
import { ensureSlurm, runSlurm } from '../peers/slurm.mjs';

const ratio = (report, workload, ours, theirs, higherIsBetter) => {
  const a = report.get(workload, 'picompute');
  if (!a || !Number.isFinite(theirs)) return '';
  return `${(higherIsBetter ? a.figure / theirs : theirs / a.figure).toFixed(1)}×`;
};

export async function run({ cores, quick, report }) {
  const corpus = corpusFile(quick ? 2 : 50);
  const daskProblem = ensureDask();
  if (daskProblem) report.note(daskProblem);
  else {
    const d = await runDask({ cores, quick, corpus });
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
      `vs Dask: W1 ${ratio(report, 'W1 tiny tasks', 0, d.W1.tasks_per_s, true)} the task rate (target ≥ 50×), W3 ${ratio(report, 'W3 word count', 0, d.W3.counter_mb_s, true)} its best form (target ≥ 2×), W4 ${ratio(report, 'W4 one trivial job', 0, d.W4.median_ms, false)} faster connected`,
    );
  }
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
    report.note(`vs Slurm: W1 ${ratio(report, 'W1 tiny tasks', 0, s.W1.tasks_per_s, true)}, W2 efficiency ${ratio(report, 'W2 Monte Carlo π', 0, s.W2.efficiency, true)}, W3 ${ratio(report, 'W3 word count', 0, s.W3.mb_s, true)}, W4 ${ratio(report, 'W4 one trivial job', 0, s.W4.srunMs, false)} srun's latency`);
    report.note(`Slurm settings: ${s.settings}`);
  }
}
