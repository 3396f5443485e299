/**
 * A task that SIGKILLs its own agent: the client hears at once that the node
 * is gone and the task waits for one, and the job ends well once the agent
 * is back.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import type { JobEvent } from '@picompute/sdk/wire';
import { KEY_FILE, fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** An agent on a fixed port, a coordinator dialling it, and a way to start the agent again after a task killed it. */
async function cluster() {
  const port = await freePort();
  const startAgent = () => startDaemon(['agent', '--host', '127.0.0.1', '--port', String(port), '--cores', '1']);
  let agent: Daemon = await startAgent();
  const coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address]);
  await coordinator.waitFor(/agent \S+ up at /);
  return {
    coordinator,
    /** Waits for the task to kill the agent, then starts it again. */
    async revive() {
      if (agent.proc.exitCode === null && agent.proc.signalCode === null) await new Promise((resolve) => agent.proc.once('exit', resolve));
      agent = await startAgent();
    },
    stop: () => Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]),
  };
}

const marker = () => join(mkdtempSync(join(tmpdir(), 'picompute-kill-')), 'killed');

describe('a task that SIGKILLs its agent', () => {
  it('the SDK delivers an event saying the node is gone and the task waits for one; the job then completes', async () => {
    const c = await cluster();
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const job = await client.submit(fixture('kill-agent-once.ts'), { args: { marker: marker() } });
      const events: JobEvent[] = [];
      let revived: Promise<void> | undefined;
      const revive = () => (revived ??= c.revive());
      // Hang guard: a client never told still sees its job end, and the test then says what was missing.
      const guard = setTimeout(revive, 15_000);
      for await (const ev of job.events()) {
        events.push(ev);
        // Started again only once the client was told, so the event cannot come from the agent's return.
        if (ev.logs.some((l) => l.line.includes('is gone'))) revive();
      }
      clearTimeout(guard);
      await revived;
      const told = events.flatMap((e) => e.logs).find((l) => l.line.includes('is gone'));
      expect(told).toMatchObject({ task: 0, node: 'coordinator' });
      expect(told!.line).toMatch(/^its node \S+ is gone \(.+\); the task waits for a node to run it again \(attempt 2 of 3\)$/);
      expect(events.at(-1)).toMatchObject({ state: 'COMPLETED', tasksDone: 2 });
      expect(await job.result()).toEqual([10, 11]);
    } finally {
      client.close();
      await c.stop();
    }
  });

  it('`submit` off a terminal prints a plain line saying so', async () => {
    const c = await cluster();
    try {
      const submit = runCli(['submit', fixture('kill-agent-once.ts'), '--arg', `marker=${marker()}`, '--coordinator', c.coordinator.address]);
      await c.revive();
      const r = await submit;
      expect(r.stderr).toMatch(/\[task 0 @ coordinator\] its node \S+ is gone \(.+\); the task waits for a node to run it again \(attempt 2 of 3\)/);
      expect(r.code).toBe(0);
    } finally {
      await c.stop();
    }
  });
});
