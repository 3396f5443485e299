/**
 * W2: Monte Carlo π, 64 tasks × 2,000,000 points (xorshift32 seeded i+1): one
 * thread, plain piscina and picompute all run the very countHits of
 * examples/monte-carlo-pi.ts, from the example's own bundle. Each system runs
 * one full round first (its worker threads started, V8 warm), then the best
 * of `repeat`: a cold first round costs picompute ~0.2 s here (its threads
 * start with the first job; piscina's baseline pool starts them beforehand).
 */
import { Piscina } from 'piscina';
import { best, bundleExports, here, warmBest } from '../lib/harness.mjs';
import { withDaemons } from '../lib/daemons.mjs';
import { runJob, withLocalCluster } from '../lib/local.mjs';

export const EXAMPLE = here('../examples/monte-carlo-pi.ts');
/** Full rounds before the measured ones: one (see above). */
const WARM_UP = 2;

export async function run({ quick, cores, repeat, report }) {
  const tasks = quick ? 8 : 64;
  const points = quick ? 200_000 : 2_000_000;
  const {
    url,
    exports: { countHits },
  } = await bundleExports(EXAMPLE);
  const slices = Array.from({ length: tasks }, (_, i) => ({ seed: i + 1, points }));
  let hits = 0;
  const single = await best(1, () => {
    hits = slices.reduce((a, s) => a + countHits(s), 0);
  });
  const expected = (4 * hits) / (tasks * points);
  report.add('W2 Monte Carlo π', 'one thread', 1, 'efficiency', { ms: +single.ms.toFixed(1) });

  const pool = new Piscina({
    filename: here('baselines/bundle-worker.mjs'),
    minThreads: cores,
    maxThreads: cores,
    workerData: { bundleUrl: url, exportName: 'countHits' },
  });
  const p = await warmBest(
    repeat,
    async () => {
      const h = (await Promise.all(slices.map((s) => pool.run(s)))).reduce((a, b) => a + b, 0);
      if (h !== hits) throw new Error('piscina W2 gave a wrong answer');
    },
    WARM_UP,
  );
  await pool.destroy();
  report.add('W2 Monte Carlo π', `plain piscina (${cores} threads)`, single.ms / (p.ms * cores), 'efficiency', { ms: +p.ms.toFixed(1) });

  const args = { tasks: String(tasks), points: String(points) };
  /** One round of the job on `client`, its answer checked. */
  const estimate = (client, where) => async () => {
    const pi = await runJob(client, EXAMPLE, args);
    if (pi !== expected) throw new Error(`W2 ${where} gave ${pi}, expected ${expected}`);
  };
  await withLocalCluster(cores, async (client) => {
    const r = await warmBest(repeat, estimate(client, 'embedded'), WARM_UP);
    report.add('W2 Monte Carlo π', 'picompute (embedded)', single.ms / (r.ms * cores), 'efficiency', { ms: +r.ms.toFixed(1) });
    report.note(`W2: picompute wall time ${(r.ms / p.ms).toFixed(3)}× plain piscina's (target ≤ 1.03), answer ${expected} exact in all three`);
  });
  // Real daemons: a coordinator and an agent process on loopback, the SDK submitting.
  await withDaemons(cores, async (client) => {
    const r = await warmBest(repeat, estimate(client, 'over real daemons'), WARM_UP);
    report.add('W2 Monte Carlo π', 'picompute (real daemons, loopback)', single.ms / (r.ms * cores), 'efficiency', { ms: +r.ms.toFixed(1) });
    report.note(`W2: through real daemons, wall time ${(r.ms / p.ms).toFixed(3)}× plain piscina's, same run (target ≤ 1.05)`);
  });
}
