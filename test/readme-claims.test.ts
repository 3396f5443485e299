/**
 * README claims about jobs and `submit` that had no test of their own (issue
 * #18), each run the way a user runs it: the built command on the embedded
 * cluster, real worker threads, real gRPC on loopback.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, childEnv, fixture, runCli } from './support/cli.js';
import { socketsOf } from './support/proc.js';

describe('README: a job', () => {
  it('ctx.signal is aborted at the time limit, so an async task can stop itself cleanly', async () => {
    const r = await runCli(['submit', fixture('abortable.ts'), '--time-limit', '1s', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: ['task 0 done', 'task 1 saw aborted=true (time limit reached)'] });
  });

  it('console.log (and console.error) inside a task reach the submitter, tagged with the task', async () => {
    const r = await runCli(['submit', fixture('console-log.ts')]);
    expect(r.code).toBe(0);
    for (const i of [0, 1, 2]) {
      expect(r.stderr).toContain(`[task ${i} @ local] console.log from task ${i}`);
      expect(r.stderr).toContain(`[task ${i} @ local] console.error from task ${i}`);
    }
    // Not printed by the worker thread itself on the submitter's stdout.
    expect(r.stdout).not.toContain('console.log from task');
  });

  it('inputs may return a sync iterable that is not an array', async () => {
    const r = await runCli(['submit', fixture('sync-inputs.ts'), '--json', '--arg', 'kind=iterable', '--arg', 'n=5']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: [0, 10, 20, 30, 40] });
  });

  it('inputs may return a sync generator, or be a sync generator function', async () => {
    const returned = await runCli(['submit', fixture('sync-inputs.ts'), '--json', '--arg', 'kind=generator', '--arg', 'n=3']);
    expect(returned.code).toBe(0);
    expect(JSON.parse(returned.stdout)).toMatchObject({ state: 'COMPLETED', result: [0, 10, 20] });
    const itself = await runCli(['submit', fixture('sync-generator.ts'), '--json', '--arg', 'n=4']);
    expect(itself.code).toBe(0);
    expect(JSON.parse(itself.stdout)).toMatchObject({ state: 'COMPLETED', result: ['ITEM-0', 'ITEM-1', 'ITEM-2', 'ITEM-3'] });
  });

  it('a failing task names its input shortened, not the whole 5,000-character value', async () => {
    const r = await runCli(['submit', fixture('throws-big-input.ts')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('task 1 failed');
    expect(r.stderr).toContain('Error: cannot handle this one');
    const input = r.stderr.split('\n').find((l) => l.trimStart().startsWith('input: '));
    expect(input).toBeDefined();
    expect(input).toContain("{ id: 1, text: 'AAAA");
    expect(input).toMatch(/more characters|…/);
    expect(input!.length).toBeLessThan(300);
    expect(r.stderr).not.toContain('A'.repeat(100));
  });
});

describe('README: the embedded cluster', () => {
  it('listens on 127.0.0.1 only: every listening socket of a running `submit` is on loopback', async () => {
    const child = spawn(process.execPath, [CLI, 'submit', fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`submit did not start its embedded cluster: ${stderr}`)), 30_000);
        child.stderr.on('data', (d) => {
          stderr += d;
          if (stderr.includes('running on the embedded local cluster')) clearTimeout(timer), resolve();
        });
      });
      const listening = socketsOf(child.pid!).filter((s) => s.state === 'LISTEN');
      // The coordinator and the agent, each on its own port.
      expect(listening.length).toBeGreaterThanOrEqual(2);
      expect(listening.filter((s) => s.address !== '127.0.0.1')).toEqual([]);
      // And no UDP socket (no mDNS, nothing else reachable).
      expect(socketsOf(child.pid!).filter((s) => s.proto.startsWith('udp'))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
