/**
 * W6: the W2-shaped job (64 tasks, 40,000,000 points each, so tasks still run
 * 2 s in) on two one-core agent processes, unharmed, and with one agent killed
 * by SIGKILL 2 s in and started again at once (as systemd's Restart= would).
 * Figures: exact answer both times, and the time it cost.
 */
import { daemon, here, keyEnv, runCli, stop } from '../lib/harness.mjs';

export async function run({ quick, report }) {
  const { env } = keyEnv();
  const tasks = quick ? 8 : 64;
  const points = quick ? 10_000_000 : 40_000_000;
  const killAt = quick ? 700 : 2000;
  const agents = [await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1'], env), await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1'], env)];
  const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', ...agents.flatMap((a) => ['--agent', a.address])], env);
  const args = ['submit', here('../examples/monte-carlo-pi.ts'), '--coordinator', coordinator.address, '--json', '--arg', `tasks=${tasks}`, '--arg', `points=${points}`];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const unharmed = await runCli(args, env);
    const clean = JSON.parse(unharmed.stdout);
    if (clean.state !== 'COMPLETED') throw new Error(`W6 unharmed run failed: ${unharmed.stderr}`);
    const run = runCli(args, env);
    await new Promise((r) => setTimeout(r, killAt));
    const victim = agents[0];
    const port = victim.address.split(':').pop();
    await stop(victim, 'SIGKILL');
    agents[0] = await daemon(['agent', '--host', '127.0.0.1', '--port', port, '--cores', '1'], env);
    const killed = await run;
    const hurt = JSON.parse(killed.stdout);
    if (hurt.state !== 'COMPLETED' || hurt.result !== clean.result) throw new Error(`W6 gave ${hurt.result} (${hurt.state}), unharmed ${clean.result}`);
    report.add('W6 agent killed', 'picompute, unharmed (2 one-core agents)', unharmed.ms, 'ms', { answer: clean.result });
    report.add('W6 agent killed', `picompute, one agent SIGKILLed ${killAt / 1000} s in and restarted`, killed.ms, 'ms', { answer: hurt.result, reruns: hurt.stats.retries });
    const cost = (killed.ms - unharmed.ms) / 1000;
    report.note(`W6: exact answer after the kill; ${cost < 0 ? '−' : '+'}${Math.abs(cost).toFixed(2)} s against the unharmed run (target ≤ +3 s)`);
  } finally {
    await Promise.all([stop(coordinator), ...agents.map((a) => stop(a))]);
  }
}
