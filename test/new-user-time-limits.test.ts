/**
 * Issue #12, 3: a task that never settles cannot hold a job forever. The
 * coordinator gives jobs without --time-limit its --default-time-limit,
 * refuses one over its --max-time-limit, and progress off a terminal names
 * the task the stalled job waits for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';

describe('coordinator time limits', () => {
  let agent: Daemon;
  let coordinator: Daemon;
  const submit = (args: string[]) => runCli(['submit', ...args, '--coordinator', coordinator.address], { timeoutMs: 40_000 });

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '2']);
    coordinator = await startDaemon([
      'coordinator',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--agent',
      agent.address,
      '--default-time-limit',
      '12s',
      '--max-time-limit',
      '1m',
    ]);
    await coordinator.waitFor(/agent .* up at /);
  });
  afterAll(async () => {
    await Promise.all([coordinator, agent].map((d) => d?.stop('SIGKILL')));
  });

  it('a job without --time-limit gets the default; progress says which task it waits for, on which node, for how long', async () => {
    // Task 2 of forever.ts spins for ever.
    const r = await submit([fixture('forever.ts')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TIMEOUT: task 2 failed[^]*time limit of 12s/);
    expect(r.stderr).toMatch(/3\/4 tasks .* no task finished for \d+(\.\d+)?s; running longest: task 2 on \S+ for \d/);
  });

  it('a job asking for more than --max-time-limit is refused at submit, saying the maximum', async () => {
    const r = await submit([fixture('slow-square.ts'), '--time-limit', '2m']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--time-limit 2m(00s)? is over this coordinator's maximum of 1m(00s)? \(its --max-time-limit\): ask for 1m(00s)? or less/);
  });

  it('--help documents both limits and the default of one hour', async () => {
    const r = await runCli(['coordinator', '--help']);
    expect(r.stdout).toMatch(/--default-time-limit <duration>[^]*DefaultTime\)[^]*\(default: "1h"\)/);
    expect(r.stdout).toMatch(/--max-time-limit <duration>[^]*MaxTime/);
  });
});
