/** `picompute bench` and its NPB EP kernel, checked against NPB's published figures. */
import { expect, it } from 'vitest';
import { CLASSES, epBatches } from '../packages/cli/bench/ep.ts';
import { runCli } from './support/cli.js';

it('the EP kernel reproduces NPB class S: sx, sy and 13,176,389 pairs', () => {
  const all = epBatches({ from: 0, to: 2 ** (CLASSES.S!.m - 16) });
  expect(all.sx / CLASSES.S!.sx).toBeCloseTo(1, 10);
  expect(all.sy / CLASSES.S!.sy).toBeCloseTo(1, 10);
  expect(all.q.reduce((a, b) => a + b, 0)).toBe(13_176_389);
});

it('picompute bench measures the embedded cluster and verifies EP class S', async () => {
  const r = await runCli(['bench', '--local', '--class', 'S', '--json']);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report).toMatchObject({ nodes: 1, ep: [{ class: 'S', pairs: 13_176_389, verified: true }], perNode: [{ node: 'local', relativeSpeed: 1 }] });
  expect(report.tasksPerSecond).toBeGreaterThan(0);
  expect(report.rttMs).toBeGreaterThan(0);
  const bad = await runCli(['bench', '--local', '--class', 'Z']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--class Z: choose from S, W and A');
});
