/** An agent given its key in PICOMPUTE_KEY: job code finds the key neither in /proc/self/environ nor in process.env. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KEY_FILE, fixture } from './support/cli.js';
import { useDaemonCluster } from './support/daemon-cluster.js';

const key = readFileSync(KEY_FILE, 'utf8').trim();

describe('an agent started with PICOMPUTE_KEY', () => {
  const cluster = useDaemonCluster(['--cores', '1'], { agentEnv: { PICOMPUTE_KEY_FILE: undefined, PICOMPUTE_KEY: key } });

  it('proves the key to the coordinator, yet its tasks cannot read it from the environment', async () => {
    const job = await cluster.client.submit(fixture('read-environ.ts'));
    const [seen] = await job.result<{ environ: string; env: string }[]>();
    // The task really read the agent's environment (it holds the variables the test set)...
    expect(seen!.environ).toContain('PICOMPUTE_MDNS=off');
    // ...but not the key, under its name or at all.
    for (const text of [seen!.environ, seen!.env]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain('PICOMPUTE_KEY=');
    }
    expect(readFileSync(`/proc/${cluster.agent.proc.pid}/environ`, 'latin1')).not.toContain(key);
    expect(cluster.agent.output()).not.toContain('WARNING');
  });
});
