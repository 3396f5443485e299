// Coordinator memory per queued task: a coordinator with no agents (so the
// job stays queued, PENDING NoNodes) takes one job of N tiny inputs; the
// growth of this process's memory (after GC) over N is the cost of a queued
// task, the state database's pages not included (they are on disk).
//
//   node --expose-gc benchmarks/queued-task-memory.mjs [N=2000000] [--json]
//
// The SDK client runs in this process too; the inputs it packed are dropped
// before the second reading.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator } from '@picompute/coordinator';
import { connect } from '@picompute/sdk/client';

const n = Number(process.argv[2] ?? 2_000_000);
if (!globalThis.gc) throw new Error('run with node --expose-gc');
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, js: m.heapUsed + m.external };
};
const coordinator = await startCoordinator({ port: 0, stateDir: mkdtempSync(join(tmpdir(), 'picompute-queued-')), log: () => {} });
const client = await connect({ coordinator: coordinator.address, security: {} });
const before = await settle();
const started = performance.now();
let _job = await client.submit(new URL('./jobs/echo.ts', import.meta.url).pathname, { args: { tasks: String(n) } });
const submitMs = performance.now() - started;
const { jobs } = await client.jobs({ active: true });
_job = undefined;
const after = await settle();
const per = (k) => ((after[k] - before[k]) / n).toFixed(1);
if (process.argv.includes('--json'))
  console.log(JSON.stringify({ tasks: n, state: jobs[0].state, jsBytesPerTask: Number(per('js')), rssBytesPerTask: Number(per('rss')) }));
else
  console.log(
    `${n.toLocaleString('en-US')} queued tasks (${jobs[0].state} ${jobs[0].reason}): ${per('js')} bytes/task of JS heap + buffers, ${per('rss')} bytes/task of RSS; coordinator RSS ${(after.rss / 2 ** 20).toFixed(0)} MiB (client in the same process); submit ${(submitMs / 1000).toFixed(1)} s`,
  );
client.close();
await coordinator.close();
