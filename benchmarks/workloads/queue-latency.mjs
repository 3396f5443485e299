/**
 * Queue: how long the batch-system promises take on this machine, figures the
 * tests only check the order of: a cancel until every core is free again, and
 * a small job submitted behind a huge one until its result (backfill).
 */
import { availableParallelism } from 'node:os';
import { best, here } from '../lib/harness.mjs';
import { withLocalCluster } from '../lib/local.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, probe, limitMs = 60_000) {
  for (const started = Date.now(); Date.now() - started < limitMs; await sleep(5)) if (await probe()) return;
  throw new Error(`queue: ${what} not within ${limitMs} ms`);
}

export async function run({ repeat, report }) {
  const cores = Math.min(availableParallelism(), 4);
  // The tests' busy job (the one a cancel has to stop), not a copy of it.
  const busy = here('../test/fixtures/busy.ts');
  const coresBusy = async (client) => (await client.nodes()).reduce((a, n) => a + n.coresBusy, 0);
  await withLocalCluster(cores, async (client) => {
    const cancel = await best(repeat, async () => {
      const job = await client.submit(busy, { args: { n: String(cores), ms: '60000' } });
      await until('all cores busy', async () => (await coresBusy(client)) === cores);
      const t = performance.now();
      await job.cancel();
      await until('cores free after the cancel', async () => (await coresBusy(client)) === 0);
      return performance.now() - t;
    });
    report.add('queue', `cancel until all ${cores} cores are free (best of ${repeat})`, cancel.ms, 'ms');

    const backfill = await best(repeat, async () => {
      const huge = await client.submit(busy, { args: { n: '400', ms: '50' } });
      await until('the huge job running', async () => (await coresBusy(client)) > 0);
      const t = performance.now();
      const small = await (await client.submit(here('jobs/trivial.ts'))).result();
      const ms = performance.now() - t;
      if (small[0] !== 42) throw new Error('queue: the small job gave a wrong answer');
      const still = (await client.jobs({ active: true })).jobs.some((j) => j.jobId === huge.id);
      await huge.cancel();
      if (!still) throw new Error('queue: the huge job ended before the small one; nothing was measured');
      return ms;
    });
    report.add('queue', `small job behind a huge one, submit to result (best of ${repeat})`, backfill.ms, 'ms');
    report.note(
      `queue: cancel frees ${cores} cores in ${cancel.ms.toFixed(0)} ms (README: within seconds); a small job behind a huge one ends in ${backfill.ms.toFixed(0)} ms`,
    );
  });
}
