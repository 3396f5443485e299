/** Daemon options are compiled in one place each: defaults filled in, bad values refused naming the option (not a CLI flag). */
import { describe, expect, it } from 'vitest';
import { agentOptions } from '../../agent/src/agent-options.js';
import { coordinatorOptions } from '../src/coordinator-options.js';

describe('daemon options', () => {
  it('fill in the documented defaults', () => {
    const a = agentOptions({});
    expect(a).toMatchObject({ host: '127.0.0.1', port: 0, labels: [], heartbeatMs: 1000, mdns: false, maxMessageBytes: 64 * 1024 * 1024 });
    const c = coordinatorOptions({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      agents: [],
      durable: true,
      keepMs: 7 * 86_400_000,
      defaultTimeLimitMs: 3_600_000,
      maxTimeLimitMs: 0,
      uploadIdleMs: 30_000,
    });
  });

  it('refuse a bad value naming the option, never a command-line flag', () => {
    const refusals = [
      () => agentOptions({ cores: 0 }),
      () => agentOptions({ port: 70_000 }),
      () => agentOptions({ coordinator: 'nowhere' }),
      () => coordinatorOptions({ agents: ['pi5-1'] }),
      () => coordinatorOptions({ keepMs: -1 }),
      () => coordinatorOptions({ uploadIdleMs: 1.5 }),
    ];
    const messages = refusals.map((f) => {
      try {
        f();
        return 'accepted';
      } catch (err) {
        expect((err as Error).name).toBe('OptionError');
        return (err as Error).message;
      }
    });
    expect(messages).toEqual([
      'agent option cores must be a whole number ≥ 1, not 0',
      'agent option port must be 0–65535, not 70000',
      expect.stringMatching(/^agent option coordinator: "nowhere" is not host:port/),
      expect.stringMatching(/^coordinator option agents: "pi5-1" is not host:port/),
      'coordinator option keepMs must be a whole number ≥ 0, not -1',
      'coordinator option uploadIdleMs must be a whole number ≥ 1, not 1.5',
    ]);
    for (const m of messages) expect(m).not.toMatch(/--/);
  });

  it('normalize addresses', () => {
    expect(coordinatorOptions({ agents: [':7701', 'pi5-1.local:7701'] }).agents).toEqual(['127.0.0.1:7701', 'pi5-1.local:7701']);
  });
});
