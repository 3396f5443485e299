// W1 in its steady state on the embedded cluster (`node benchmarks/w1-steady.mjs`, after `pnpm run build`): 8 warm-up jobs of 10,000
// tiny tasks, then 12 measured; the median and best rate, and this process's CPU per task over the measured ones.
import { here } from './lib/harness.mjs';
import { runJob, withLocalCluster } from './lib/local.mjs';
await withLocalCluster(2, async (client) => {
  const rates = [];
  let cpu;
  for (let i = 0; i < 20; i++) {
    if (i === 8) cpu = process.cpuUsage();
    const t = performance.now();
    await runJob(client, here('jobs/echo.ts'), { tasks: '10000' });
    if (i >= 8) rates.push((10000 / (performance.now() - t)) * 1000);
  }
  const c = process.cpuUsage(cpu);
  rates.sort((a, b) => a - b);
  console.log(`median ${rates[6].toFixed(0)} tasks/s, best ${rates.at(-1).toFixed(0)}, cpu ${((c.user + c.system) / 120000).toFixed(2)} µs/task`);
});
