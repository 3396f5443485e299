/**
 * A temperature sensor that never answers (a wedged I2C driver; here a FIFO
 * nobody writes, whose read blocks as one would) must not silence the
 * agent's heartbeats, nor take the I/O threads the agent's own files need.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fixture } from './support/cli.js';
import { useDaemonCluster } from './support/daemon-cluster.js';

const fifo = join(mkdtempSync(join(tmpdir(), 'picompute-hung-sensor-')), 'temp');
execFileSync('mkfifo', [fifo]);
const cluster = useDaemonCluster(['--cores', '1', '--no-speed-probe', '--thermal-path', fifo]);

it('keeps the agent up and serving with a sensor whose reads never return: its heartbeats go out without the temperature', async () => {
  // Past the coordinator's 3 s limit, and past the four reads that would have taken every libuv I/O thread.
  await new Promise((r) => setTimeout(r, 5000));
  const job = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '1,1' } });
  expect((await job.result<Buffer[]>()).map((b) => b.length)).toEqual([1048576, 1048576]);
  const [node] = await cluster.client.nodes();
  expect(node).toMatchObject({ state: 'idle' });
  expect(node!.lastHeartbeat?.temperatureC).toBeNaN();
  expect(cluster.coordinator.output()).not.toMatch(/down \(/);
});
