/**
 * W4: one trivial job, submit to result: from a script holding a connected
 * client on a warm cluster, and from a new `picompute submit` process.
 */
import { best, daemon, here, keyEnv, median, runCli, stop } from '../lib/harness.mjs';
import { connect, loadSecurity } from '@picompute/sdk/client';

export async function run({ quick, report }) {
  const { env, keyFile } = keyEnv();
  const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1'], env);
  const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address], env);
  const job = here('jobs/trivial.ts');
  try {
    const client = await connect({ coordinator: coordinator.address, security: await loadSecurity({ keyFile }) });
    const times = [];
    for (let i = 0; i < (quick ? 5 : 50); i++) {
      const t = performance.now();
      const out = await (await client.submit(job)).result();
      times.push(performance.now() - t);
      if (out[0] !== 42) throw new Error('W4 gave a wrong answer');
    }
    client.close();
    report.add('W4 one trivial job', 'picompute SDK, connected (median)', median(times.slice(1)), 'ms', { best: +Math.min(...times).toFixed(2) });
    const cli = [];
    for (let i = 0; i < (quick ? 2 : 10); i++) {
      const r = await runCli(['submit', job, '--coordinator', coordinator.address, '--json'], env);
      if (r.code !== 0 || JSON.parse(r.stdout).result[0] !== 42) throw new Error(`W4 CLI failed: ${r.stderr}`);
      cli.push(r.ms);
    }
    report.add('W4 one trivial job', 'picompute CLI, new process (median)', median(cli), 'ms', { best: +Math.min(...cli).toFixed(1) });
    const node = await best(quick ? 2 : 5, () => runCli(['--version'], env));
    report.add('W4 one trivial job', 'baseline: `picompute --version` (Node start-up)', node.ms, 'ms');
    report.note(`W4: SDK ${median(times.slice(1)).toFixed(1)} ms (target ≤ 5), CLI ${median(cli).toFixed(0)} ms (target ≤ 250)`);
  } finally {
    await Promise.all([stop(coordinator), stop(agent)]);
  }
}
