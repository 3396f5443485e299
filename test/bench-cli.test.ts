/** `picompute bench` and its NPB EP kernel, checked against NPB's published figures. */
import { expect, it } from 'vitest';
import { CLASSES, epBatches } from '../packages/cli/bench/ep.ts';
import { runCli, startDaemon } from './support/cli.js';

it('the EP kernel reproduces NPB class S: sx, sy and 13,176,389 pairs', () => {
  const all = epBatches({ from: 0, to: 2 ** (CLASSES.S!.m - 16) });
  expect(all.sx / CLASSES.S!.sx).toBeCloseTo(1, 10);
  expect(all.sy / CLASSES.S!.sy).toBeCloseTo(1, 10);
  expect(all.q.reduce((a, b) => a + b, 0)).toBe(13_176_389);
});

// With one node every speed is 1 by definition; two agents make the per-node figures something that can be wrong.
it('picompute bench measures a two-agent cluster: EP class S verified, per-node figures consistent with each other', async () => {
  const agents = await Promise.all([0, 1].map(() => startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '1'])));
  const coordinator = await startDaemon(['coordinator', '--port', '0', '--host', '127.0.0.1', ...agents.flatMap((a) => ['--agent', a.address])]);
  try {
    await coordinator.waitFor(/(agent \S+ up at[^]*){2}/);
    const ids = agents.map((a) => a.output().match(/agent (\S+) listening/)![1]!);
    const r = await runCli(['bench', '--class', 'S', '--json', '--coordinator', coordinator.address], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      nodes: number;
      cores: number;
      rttMs: number;
      ep: { class: string; ms: number; mops: number; pairs: number; verified: boolean; coreSecondsPerSecond: number }[];
      perNode: { node: string; batchesPerCoreSecond: number; relativeSpeed: number; rttMs: number }[];
    };
    expect(report).toMatchObject({ nodes: 2, cores: 2, ep: [{ class: 'S', pairs: 13_176_389, verified: true }] });
    // Both agents ran EP batches and each is rated against the faster one.
    expect(report.perNode.map((n) => n.node).sort()).toEqual([...ids].sort());
    const fastest = Math.max(...report.perNode.map((n) => n.batchesPerCoreSecond));
    for (const n of report.perNode) {
      expect(n.batchesPerCoreSecond).toBeGreaterThan(0);
      expect(n.relativeSpeed).toBeCloseTo(n.batchesPerCoreSecond / fastest, 9);
      expect(n.rttMs).toBeGreaterThan(0);
    }
    expect(Math.max(...report.perNode.map((n) => n.relativeSpeed))).toBe(1);
    // Two one-core agents cannot have run more than two core-seconds of tasks per second of wall time.
    const [ep] = report.ep;
    expect(ep!.coreSecondsPerSecond).toBeGreaterThan(0);
    expect(ep!.coreSecondsPerSecond).toBeLessThanOrEqual(2 * 1.05);
    expect(ep!.mops).toBeCloseTo(2 ** (CLASSES.S!.m + 1) / (ep!.ms * 1000), 6);
  } finally {
    await Promise.all([coordinator, ...agents].map((d) => d.stop('SIGKILL')));
  }
}, 180_000);

it('picompute bench refuses an unknown EP class before measuring anything', async () => {
  const bad = await runCli(['bench', '--local', '--class', 'Z']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--class Z: choose from S, W and A');
});
