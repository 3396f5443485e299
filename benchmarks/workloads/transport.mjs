/**
 * What the key-derived TLS costs: W1 and W3 through real daemons (a
 * coordinator and an agent process on loopback, the SDK submitting), once
 * with the cluster key (mutual TLS 1.3 + the per-request proof) and once
 * keyless (plain HTTP/2, allowed on loopback only), in the same run.
 */
import { statSync } from 'node:fs';
import { corpusFile } from '../lib/corpus.mjs';
import { withDaemons } from '../lib/daemons.mjs';
import { best, here } from '../lib/harness.mjs';

export async function run({ quick, cores, repeat, report }) {
  const tasks = quick ? 2000 : 10_000;
  const file = corpusFile(quick ? 2 : 50);
  const mb = statSync(file).size / 1048576;
  const figures = {};
  for (const [keyed, label] of [
    [false, 'plain HTTP/2 (keyless, loopback)'],
    [true, 'mutual TLS from the key'],
  ]) {
    await withDaemons(
      cores,
      async (client) => {
        const w1 = await best(repeat, async () => {
          const out = await (await client.submit(here('jobs/echo.ts'), { args: { tasks: String(tasks) } })).result();
          if (out.length !== tasks) throw new Error('W1 over daemons gave a wrong answer');
        });
        const w3 = await best(repeat, async () => (await client.submit(here('jobs/word-count.ts'), { args: { file } })).result());
        figures[keyed] = { w1: (tasks / w1.ms) * 1000, w3: mb / (w3.ms / 1000) };
        report.add('transport W1 (daemons)', label, figures[keyed].w1, 'tasks/s', { ms: +w1.ms.toFixed(1) });
        report.add('transport W3 (daemons)', label, figures[keyed].w3, 'MB/s', { ms: +w3.ms.toFixed(0) });
      },
      { keyed },
    );
  }
  report.note(
    `transport: with the key's TLS, W1 runs at ${(figures.true.w1 / figures.false.w1).toFixed(2)}× and W3 at ${(figures.true.w3 / figures.false.w3).toFixed(2)}× the keyless plain-HTTP/2 rate (real daemons on loopback, same run)`,
  );
}
