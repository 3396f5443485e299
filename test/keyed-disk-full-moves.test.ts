/**
 * A full disk on one agent moves the task elsewhere: two agents, one whose
 * spill folder (where keyed maps leave their sorted runs) is a small tmpfs
 * filled to the brim. A word count over 16 chunks runs maps on both; those
 * on the full agent fail DISK_FULL and run again on the other, which takes
 * the rest of the job. The job completes with the exact counts; the full
 * agent logs a line naming the disk (its folder, and what is free there),
 * and the job's log says which task moved off which node.
 * (test/keyed-disk-full.test.ts: with no other agent, the job fails saying so.)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { cannotRun } from './support/requirements.js';
import { canMount, fillDisk, mountTmpfs } from './support/tmpfs.js';
import { until } from './support/until.js';

if (!canMount) cannotRun('a full disk on one agent moves its tasks to another', 'mounting a tmpfs needs root');
else
  describe('a full disk on one agent', () => {
    let disk: ReturnType<typeof mountTmpfs>;
    let full: Daemon;
    let roomy: Daemon;
    let coordinator: Daemon;

    beforeAll(async () => {
      const cacheDir = mkdtempSync(join(tmpdir(), 'picompute-full-cache-'));
      // Only the spill folder is on the small disk: the job's code still reaches the agent's cache.
      mkdirSync(join(cacheDir, 'shuffle'));
      disk = mountTmpfs(4, join(cacheDir, 'shuffle'));
      fillDisk(disk.dir);
      full = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--no-speed-probe', '--cache-dir', cacheDir]);
      roomy = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--no-speed-probe']);
      coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', full.address, '--agent', roomy.address]);
      await until('both agents up', async () => {
        const nodes = JSON.parse((await runCli(['nodes', '--json', '--coordinator', coordinator.address])).stdout) as { state: string }[];
        return nodes.filter((n) => n.state !== 'down').length === 2 || undefined;
      });
    });

    afterAll(async () => {
      await Promise.all([coordinator?.stop('SIGKILL'), full?.stop('SIGKILL'), roomy?.stop('SIGKILL')]);
      disk?.unmount();
    });

    it('the maps that found no room there run on the other agent, the counts are exact, and both the agent and the job say why', async () => {
      const input = join(mkdtempSync(join(tmpdir(), 'picompute-full-in-')), 'words.txt');
      const lines = Array.from({ length: 16_000 }, (_, i) => `word${i % 500} other${i % 7}`);
      writeFileSync(input, `${lines.join('\n')}\n`);
      const expected = new Map<string, number>();
      for (const w of lines.join(' ').split(/[^A-Za-z]+/)) if (w) expected.set(w, (expected.get(w) ?? 0) + 1);

      const r = await runCli(['submit', fixture('keyed/wc.ts'), '--input', input, '--split-size', '16K', '--json', '--coordinator', coordinator.address], {
        timeoutMs: 60_000,
      });
      expect(r.code, `${r.stderr}\nfull agent:\n${full.output()}\ncoordinator:\n${coordinator.output()}`).toBe(0);
      const { jobId, result } = JSON.parse(r.stdout) as { jobId: string; result: [string, number][] };
      expect(new Map(result)).toEqual(expected);

      // The agent names its disk: the folder, and what is left on it.
      expect(full.output()).toMatch(
        new RegExp(
          `job ${jobId} task \\d+ \\(attempt 1\\): disk full \\(${disk.dir}/\\S+: [\\d.]+ (bytes|KiB) free of [\\d.]+ MiB\\): no space left on this agent's disk ` +
            `for the map's sorted runs \\(${disk.dir}/\\S+\\): free space there, or give the agent another --cache-dir; the coordinator runs the task on another node`,
        ),
      );
      const logs = (await runCli(['logs', jobId, '--coordinator', coordinator.address])).stdout;
      expect(logs).toMatch(
        /task \d+ found no room on \S+'s disk \(no space left on this agent's disk for the map's sorted runs \(.+\): it runs again on another node/,
      );
      // Every map ran in the end on the roomy agent, once more for each that met the full disk.
      const tasks = JSON.parse((await runCli(['tasks', jobId, '--json', '--coordinator', coordinator.address])).stdout) as { node: string; state: string }[];
      expect(new Set(tasks.map((t) => t.state))).toEqual(new Set(['COMPLETED']));
      expect(new Set(tasks.map((t) => t.node)).size).toBe(1);
    }, 120_000);
  });
