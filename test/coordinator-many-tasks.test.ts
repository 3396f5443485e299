/**
 * A job of a million tiny tasks: the coordinator stays responsive enough that
 * its agent is never marked down, no task runs twice, the result is exact,
 * and what it holds per queued task is a few dozen bytes, not a few hundred.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';

const TASKS = 1_000_000;

describe('a job of a million tiny tasks', () => {
  let agent: Daemon;
  let coordinator: Daemon;

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '2']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent)]);
    await coordinator.waitFor(/agent \S+ up at/);
  });

  afterAll(async () => {
    await Promise.all([coordinator?.stop('SIGKILL'), agent?.stop('SIGKILL')]);
  });

  it('completes exactly, each task run once, with its agent never marked down', { timeout: 300_000 }, async () => {
    const r = await runCli(['submit', fixture('tiny-tasks.ts'), '--json', '--arg', `n=${TASKS}`, '--coordinator', loopback(coordinator)], {
      timeoutMs: 280_000,
    });
    const out = JSON.parse(r.stdout);
    expect(out.state).toBe('COMPLETED');
    expect(out.result).toHaveLength(TASKS);
    expect((out.result as number[]).every((v, i) => v === i % 7)).toBe(true);
    expect(out.stats.retries).toBe(0);
    expect(coordinator.output()).not.toMatch(/ down \(/);
    const [job] = JSON.parse((await runCli(['jobs', '--json', '--coordinator', loopback(coordinator)])).stdout);
    expect(job.attempts).toBe(TASKS);
  });

  it('holds under 64 bytes per queued task (200,000 queued, measured after GC)', async () => {
    const script = fileURLToPath(new URL('../benchmarks/queued-task-memory.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', script, '200000', '--json'], {
      env: { ...process.env, PICOMPUTE_MDNS: 'off' },
    });
    const m = JSON.parse(stdout);
    expect(m.state).toBe('PENDING');
    expect(m.jsBytesPerTask).toBeLessThan(64);
  });
});
