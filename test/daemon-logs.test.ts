/**
 * Daemons' structured logs: JSON lines when not on a terminal (what systemd's
 * journal or a pipe gets), readable lines when asked (tests ask, through
 * PICOMPUTE_LOG_FORMAT=text), and --log-level drops lines below it.
 */
import { describe, expect, it } from 'vitest';
import { startDaemon } from './support/cli.js';

describe('daemon logs', () => {
  it('are one JSON object a line when not on a terminal, with the same words', async () => {
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--host', '127.0.0.1', '--no-dashboard'], {
      env: { PICOMPUTE_LOG_FORMAT: undefined },
    });
    await coordinator.stop('SIGTERM');
    // Its last lines may arrive after the exit.
    await coordinator.waitFor(/SIGTERM: stopping.*\n/);
    const lines = coordinator
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { time: string; level: string; daemon: string; pid: number; msg: string });
    expect(lines.find((l) => l.msg.startsWith('coordinator listening on 127.0.0.1:'))).toMatchObject({ level: 'info', daemon: 'coordinator' });
    expect(lines.map((l) => l.msg)).toContain('SIGTERM: stopping');
    for (const l of lines) expect(Date.parse(l.time)).toBeGreaterThan(0);
  });

  it('--log-format text gives readable lines; --log-level warn drops the info ones; a wrong level is a usage error', async () => {
    const text = await startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--log-format', 'text'], { env: { PICOMPUTE_LOG_FORMAT: 'json' } });
    await text.stop('SIGTERM');
    expect(text.output()).toMatch(/^\[agent\] \d{4}-\d\d-\d\dT\S+Z agent \S+ listening on 127\.0\.0\.1:\d+/m);
    const { runCli } = await import('./support/cli.js');
    const bad = await runCli(['agent', '--port', '0', '--host', '127.0.0.1', '--log-level', 'chatty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--log-level chatty: choose debug, info, warn, error');
  });
});
