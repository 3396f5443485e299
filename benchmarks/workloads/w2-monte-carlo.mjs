/**
 * W2: Monte Carlo π, 64 tasks × 2,000,000 points (xorshift32 seeded i+1): one
 * thread, plain piscina and picompute all run the very countHits of
 * examples/monte-carlo-pi.ts, from the example's own bundle. Each system runs
 * full rounds first (its worker threads started, V8 warm), then the best
 * of `repeat` rounds taken in turns with the others: a cold first round costs
 * picompute ~0.2 s here (its threads start with the first job; piscina's
 * baseline pool starts them beforehand).
 */
import { Piscina } from 'piscina';
import { bundleExports, here, interleavedBest } from '../lib/harness.mjs';
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
  for (const s of slices) hits += countHits(s);
  const expected = (4 * hits) / (tasks * points);
  const pool = new Piscina({
    filename: here('baselines/bundle-worker.mjs'),
    minThreads: cores,
    maxThreads: cores,
    workerData: { bundleUrl: url, exportName: 'countHits' },
  });
  const args = { tasks: String(tasks), points: String(points) };
  /** One round of the job on `client`, its answer checked. */
  const estimate = (client, where) => async () => {
    const pi = await runJob(client, EXAMPLE, args);
    if (pi !== expected) throw new Error(`W2 ${where} gave ${pi}, expected ${expected}`);
  };
  try {
    // All four at once, timed in turns (see interleavedBest): each ratio below compares rounds run seconds apart.
    await withLocalCluster(cores, (local) =>
      // Real daemons: a coordinator and an agent process on loopback, the SDK submitting.
      withDaemons(cores, async (daemons) => {
        const ms = await interleavedBest(
          repeat,
          {
            single: () => {
              if (slices.reduce((a, s) => a + countHits(s), 0) !== hits) throw new Error('one thread gave another count than before');
            },
            piscina: async () => {
              const h = (await Promise.all(slices.map((s) => pool.run(s)))).reduce((a, b) => a + b, 0);
              if (h !== hits) throw new Error('piscina W2 gave a wrong answer');
            },
            embedded: estimate(local, 'embedded'),
            daemons: estimate(daemons, 'over real daemons'),
          },
          WARM_UP,
        );
        const efficiency = (system) => ms.single / (ms[system] * cores);
        report.add('W2 Monte Carlo π', 'one thread', 1, 'efficiency', { ms: +ms.single.toFixed(1) });
        report.add('W2 Monte Carlo π', `plain piscina (${cores} threads)`, efficiency('piscina'), 'efficiency', { ms: +ms.piscina.toFixed(1) });
        report.add('W2 Monte Carlo π', 'picompute (embedded)', efficiency('embedded'), 'efficiency', { ms: +ms.embedded.toFixed(1) });
        report.add('W2 Monte Carlo π', 'picompute (real daemons, loopback)', efficiency('daemons'), 'efficiency', { ms: +ms.daemons.toFixed(1) });
        report.note(`W2: picompute wall time ${(ms.embedded / ms.piscina).toFixed(3)}× plain piscina's (target ≤ 1.03), answer ${expected} exact in all three`);
        report.note(`W2: through real daemons, wall time ${(ms.daemons / ms.piscina).toFixed(3)}× plain piscina's, same run (target ≤ 1.05)`);
      }),
    );
  } finally {
    await pool.destroy();
  }
}
