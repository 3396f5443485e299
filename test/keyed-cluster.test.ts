/**
 * Keyed jobs on a real cluster of separate processes: a coordinator and two
 * one-core agents on loopback, each reducer fetching its runs from the
 * other agent over FetchRun (mutual TLS from the cluster key and the per-RPC
 * proof, as every RPC). The semantics of MIT 6.5840's test-mr.sh (map and
 * reduce parallelism, early exit) and MapReduce's answer to a lost worker:
 * an agent SIGKILLed after the maps finished has exactly its maps run again.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import { KEY_FILE, fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { freePort, wordCorpus } from './support/keyed.js';
import { until } from './support/until.js';

async function readCounts(out: string): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  for (const name of (await readdir(out)).sort()) {
    for (const line of (await readFile(join(out, name), 'utf8')).split('\n').filter(Boolean)) {
      const [k, v] = line.split('\t');
      got.set(k!, Number(v));
    }
  }
  return got;
}

/** The cluster a test started last: what its daemons said is printed when the test fails. */
let lastCluster: { coordinator: Daemon; agents: Daemon[] } | undefined;

async function startCluster(
  cacheDirs: string[] = [],
  coordinatorFlags: string[] = [],
): Promise<{ coordinator: Daemon; agents: Daemon[]; stop: () => Promise<unknown> }> {
  // No speed probe: probed on a loaded machine, one agent may count as slower, and near a job's end it then starts none
  // of its tasks (placement by speed, tested on its own): these tests need both agents to take maps and reduces.
  const agents = await Promise.all(
    [0, 1].map((i) =>
      startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--no-speed-probe', ...(cacheDirs[i] ? ['--cache-dir', cacheDirs[i]!] : [])]),
    ),
  );
  const coordinator = await startDaemon([
    'coordinator',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    ...coordinatorFlags,
    ...agents.flatMap((a) => ['--agent', a.address]),
  ]);
  lastCluster = { coordinator, agents };
  await until('both agents up', async () => ((coordinator.output().match(/agent \S+ up at /g) ?? []).length >= 2 ? true : undefined), 15_000);
  return { coordinator, agents, stop: () => Promise.all([coordinator, ...agents].map((d) => d.stop('SIGKILL'))) };
}

/** Two agents on fixed ports, each started again (same port, same node id) whenever it dies, until stopped. */
async function restartingCluster() {
  const ports = await Promise.all([freePort(), freePort()]);
  let stopping = false;
  const agents: Daemon[] = [];
  let restarts = 0;
  const keep = async (i: number): Promise<void> => {
    const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', String(ports[i]), '--cores', '1', '--no-speed-probe']);
    agents[i] = agent;
    agent.proc.once('exit', () => {
      if (stopping) return;
      restarts++;
      void keep(i);
    });
  };
  await Promise.all([keep(0), keep(1)]);
  const coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', ...agents.flatMap((a) => ['--agent', a.address])]);
  await until('both agents up', async () => ((coordinator.output().match(/agent \S+ up at /g) ?? []).length >= 2 ? true : undefined), 15_000);
  return {
    coordinator,
    restarts: () => restarts,
    async stop() {
      stopping = true;
      await Promise.all([coordinator, ...agents].map((d) => d.stop('SIGKILL')));
    },
  };
}

describe('keyed jobs across two agents', () => {
  // A run that fails on a loaded CI machine is read from what the daemons said (a straggler test once timed out there, silent).
  beforeEach(({ onTestFailed }) =>
    onTestFailed(() => {
      if (!lastCluster) return;
      const { coordinator, agents } = lastCluster;
      console.error(`coordinator said:\n${coordinator.output()}\n${agents.map((a, i) => `agent ${i} said:\n${a.output()}`).join('\n')}`);
    }),
  );
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'picompute-keyed-cluster-'));
  });

  describe('a healthy cluster', () => {
    let c: Awaited<ReturnType<typeof startCluster>>;
    beforeAll(async () => {
      c = await startCluster();
    });
    afterAll(() => c?.stop());

    it('wc runs maps and reduces on both agents at once, and when submit --out returns every part is complete', async () => {
      const input = join(root, 'par-in');
      const expected = await wordCorpus(input, 6);
      const marks = join(root, 'par-marks');
      await mkdir(marks);
      const out = join(root, 'par-out');
      const r = await runCli(
        [
          'submit',
          fixture('keyed/marked-wc.ts'),
          '--coordinator',
          c.coordinator.address,
          '--input',
          input,
          '--arg',
          `dir=${marks}`,
          '--arg',
          'overlap=1',
          '--out',
          out,
        ],
        { timeoutMs: 90_000 },
      );
      expect(r.stderr).toMatch(/keys in 4 parts under/);
      expect(r.code).toBe(0);
      // Early exit: the moment submit returned, the parts were all there and final (no temporary file, nothing still growing).
      const names = (await readdir(out)).sort();
      expect(names).toEqual(['part-00000', 'part-00001', 'part-00002', 'part-00003']);
      const sizes = await Promise.all(names.map(async (n) => (await stat(join(out, n))).size));
      expect(await readCounts(out)).toEqual(expected);
      expect(await Promise.all(names.map(async (n) => (await stat(join(out, n))).size))).toEqual(sizes);
      const files = await readdir(marks);
      const pids = (kind: string) => new Set(files.filter((f) => f.startsWith(`ran-${kind}-`)).map((f) => f.split('-').at(-1)));
      const agentPids = new Set(c.agents.map((a) => String(a.proc.pid)));
      expect(pids('map')).toEqual(agentPids);
      expect(pids('reduce')).toEqual(agentPids);
      expect(files).toContain('overlap-map');
      expect(files).toContain('overlap-reduce');

      // The finished job's parts again, from the coordinator: `picompute result ID --out`, and the SDK's parts().
      const id = /job (\d+) completed/.exec(r.stderr)![1]!;
      const again = join(root, 'par-out-again');
      const res = await runCli(['result', id, '--out', again, '--coordinator', c.coordinator.address]);
      expect(res.code).toBe(0);
      expect(res.stderr).toContain(`job ${id}: ${expected.size} keys in 4 parts under ${again}`);
      for (const n of names) expect(await readFile(join(again, n), 'utf8')).toBe(await readFile(join(out, n), 'utf8'));
      const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
      try {
        // Each part streams from the agent that reduced it, read before the next.
        const partitions: number[] = [];
        const pairs: [string, number][] = [];
        for await (const p of client.job(id).parts<string, number>()) {
          partitions.push(p.partition);
          for await (const pair of p.pairs()) pairs.push(pair);
        }
        expect(partitions).toEqual([0, 1, 2, 3]);
        expect(new Map(pairs)).toEqual(expected);
      } finally {
        client.close();
      }
    });
  });

  it('an agent SIGKILLed after every map finished: the job completes exactly, and only the maps that ran there run twice', async () => {
    const c = await startCluster();
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const input = join(root, 'kill-in');
      const expected = await wordCorpus(input, 6);
      const marks = join(root, 'kill-marks');
      await mkdir(marks);
      const gate = join(root, 'kill-gate');
      // More partitions than the two agents take at once: some reduces are planned after the kill, maybe before the coordinator has noticed it.
      const job = await client.submit(fixture('keyed/marked-wc.ts'), { input: [input], args: { dir: marks, gate }, partitions: 7 });
      const told: string[] = [];
      const watching = (async () => {
        for await (const ev of job.events()) for (const l of ev.logs) told.push(l.line);
      })();
      const mapsRan = async () => {
        const files = await readdir(marks);
        const done = new Set(files.filter((f) => f.startsWith('ran-map-')).map((f) => f.split('-')[2]));
        return done.size === 6 && files.some((f) => f.startsWith('ran-reduce-')) ? files : undefined;
      };
      // Every map has run (and reported: reduces start only then), and the reduces wait at the gate.
      const files = await until('all maps done and a reduce started', mapsRan, 60_000);
      const victim = c.agents[1]!;
      const victimPid = String(victim.proc.pid);
      const onVictim = new Set(files.filter((f) => f.startsWith('ran-map-') && f.endsWith(`-${victimPid}`)).map((f) => Number(f.split('-')[2])));
      expect(onVictim.size, 'the second agent ran none of the maps, so this test would prove nothing').toBeGreaterThan(0);
      await victim.stop('SIGKILL');
      await writeFile(gate, '');
      const pairs = (await job.result()) as [string, number][];
      expect(new Map(pairs)).toEqual(expected);
      const tasks = await client.tasks(job.id);
      const twice = new Set(tasks.filter((t) => t.attempt === 2).map((t) => t.index));
      expect(twice).toEqual(onVictim);
      expect(tasks.every((t) => t.attempt <= 2 && t.state === 'COMPLETED')).toBe(true);
      await watching;
      // The submitter is told why work runs again, one line per map.
      expect(told.filter((l) => l.includes("this map's output was there: it runs again")).length).toBe(onVictim.size);
    } finally {
      client.close();
      await c.stop();
    }
  });

  it('crash: tasks SIGKILL their own agents (restarted by the test) and with maxNodeLosses 20 the answer is the crash-free one', async () => {
    const c = await restartingCluster();
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const input = join(root, 'crash-in');
      const expected = await wordCorpus(input, 6);
      const marks = join(root, 'crash-marks');
      await mkdir(marks);
      const job = await client.submit(fixture('keyed/crashy-wc.ts'), { input: [input], args: { dir: marks }, maxNodeLosses: 20 });
      const pairs = (await job.result()) as [string, number][];
      expect(new Map(pairs)).toEqual(expected);
      const kills = (await readdir(marks)).filter((f) => f.startsWith('kill-'));
      // At least the two deterministic kills: one in the map phase, one in the reduce phase.
      expect(kills.some((f) => f.startsWith('kill-map-'))).toBe(true);
      expect(kills.some((f) => f.startsWith('kill-reduce-'))).toBe(true);
      expect(c.restarts()).toBe(kills.length);
    } finally {
      client.close();
      await c.stop();
    }
  });

  it("runs gone from a live agent's disk: reducers that cannot fetch them have those maps run again, and the job completes exactly", async () => {
    const cache = join(root, 'lost-runs-cache');
    const c = await startCluster(['', cache]);
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const input = join(root, 'lost-in');
      const expected = await wordCorpus(input, 6);
      const marks = join(root, 'lost-marks');
      await mkdir(marks);
      const mapGate = join(root, 'lost-map-gate');
      // The last map to start waits for the test: the others end and leave their runs, no reduce is planned yet,
      // and the second agent's runs are deleted before any reducer could fetch them (a reduce planned earlier
      // may fetch its runs before a deletion, whatever the load: this test then proved nothing).
      const job = await client.submit(fixture('keyed/marked-wc.ts'), { input: [input], args: { dir: marks, mapGate, maps: '6' }, partitions: 7 });
      const told: string[] = [];
      const watching = (async () => {
        for await (const ev of job.events()) for (const l of ev.logs) told.push(l.line);
      })();
      const shuffleRoot = join(cache, 'shuffle');
      let jobDir = '';
      await until('every map but the last done', async () => {
        const done = (await client.tasks(job.id)).filter((t) => t.state === 'COMPLETED').length;
        const agents = await readdir(shuffleRoot).catch(() => [] as string[]);
        if (agents[0]) jobDir = join(shuffleRoot, agents[0], job.id);
        return done >= 5 ? true : undefined;
      });
      const runs = (await readdir(jobDir).catch(() => [] as string[])).filter((f) => /^m\d+-a\d+-s\d+-p\d+$/.test(f));
      expect(runs.length, 'the second agent holds no runs, so this test would prove nothing').toBeGreaterThan(0);
      await Promise.all(runs.map((f) => rm(join(jobDir, f))));
      await writeFile(mapGate, '');
      expect(new Map((await job.result()) as [string, number][])).toEqual(expected);
      await watching;
      expect(
        told.some((l) => /could not fetch from \S+; it runs again once the maps that were there have run again elsewhere/.test(l)),
        `the job's log lines:\n${told.join('\n')}\ncoordinator:\n${c.coordinator.output()}\nmarkers: ${(await readdir(marks)).join(' ')}`,
      ).toBe(true);
      expect((await client.tasks(job.id)).some((t) => t.attempt === 2)).toBe(true);
      // The job ended: its runs go from the agents' disks (the coordinator tells every agent, not only those with tasks left);
      // only finished parts stay, for `picompute result ID --out`.
      const left = async () => (await readdir(jobDir).catch(() => [] as string[])).filter((f) => !/^part-\d+-a\d+$/.test(f));
      await until("the job's runs removed", async () => ((await left()).length === 0 ? true : undefined), 10_000);
    } finally {
      client.close();
      await c.stop();
    }
  });

  it("a straggling agent's maps get backups elsewhere that finish first; the answer is exact and the job says how many backups ran and won", async () => {
    // Backups after 1 s instead of 10 s, so the test stays short; the rule (twice the median, near the phase's end) is the same.
    const c = await startCluster([], ['--backup-after', '1s']);
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const input = join(root, 'slow-in');
      const expected = await wordCorpus(input, 4);
      const marks = join(root, 'slow-marks');
      await mkdir(marks);
      const slow = c.agents[1]!;
      const job = await client.submit(fixture('keyed/marked-wc.ts'), { input: [input], args: { dir: marks, slowPid: String(slow.proc.pid), mapMs: '700' } });
      // `jobs` while it runs (sacct's view): the backups started and won so far.
      let live = 0;
      let ended = false;
      const watching = (async () => {
        while (!ended && !live) {
          live = (await client.jobs({ active: true })).jobs.find((j) => j.jobId === job.id)?.backups ?? 0;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      expect(new Map((await job.result()) as [string, number][])).toEqual(expected);
      ended = true;
      await watching;
      const files = await readdir(marks);
      // Maps whose first attempt the slow agent started (it may also run, and lose, a backup of a map slowed by a loaded machine).
      const onSlow = files.filter((f) => f.startsWith('first-map-') && f.endsWith(`-${slow.proc.pid}`)).map((f) => Number(f.split('-')[2]));
      expect(onSlow.length, 'the slow agent started none of the maps, so this test would prove nothing').toBeGreaterThan(0);
      // Each of them ran again (its backup) and that run is the one that counted.
      const tasks = await client.tasks(job.id);
      for (const i of onSlow) expect(tasks[i]).toMatchObject({ attempt: 2, state: 'COMPLETED' });
      expect(live).toBeGreaterThan(0);
      // Maps queued behind the straggler on its agent get backups too (they never started there): every backup won.
      const line = (await client.logs(job.id)).map((l) => l.line).find((l) => l.startsWith('backups of stragglers'));
      const [, started, won] = /^backups of stragglers: (\d+) started, (\d+) finished first$/.exec(line ?? '') ?? [];
      expect(Number(started)).toBeGreaterThanOrEqual(onSlow.length);
      expect(won).toBe(started);
    } finally {
      client.close();
      await c.stop();
    }
    // Past the straggler's 30 s, so a loaded machine's late backups fail on what they did (the attempts above), not on the clock.
  }, 120_000);

  it('job count: on a healthy cluster every map runs exactly once, no needless backup (backups allowed after 2 s here)', async () => {
    // Under the 2.4 s that twice the maps' median comes to: what holds backups back is that rule, not --backup-after.
    const c = await startCluster([], ['--backup-after', '2s']);
    const client = await connect({ coordinator: c.coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
    try {
      const input = join(root, 'count-in');
      const expected = await wordCorpus(input, 6);
      const marks = join(root, 'count-marks');
      await mkdir(marks);
      // Maps of 1.0–1.4 s, more than the two agents' windows hold: some wait queued behind others.
      const job = await client.submit(fixture('keyed/marked-wc.ts'), { input: [input], args: { dir: marks, mapMs: '1000', jitterMs: '400' } });
      expect(new Map((await job.result()) as [string, number][])).toEqual(expected);
      const ran = (await readdir(marks)).filter((f) => f.startsWith('ran-map-'));
      expect(ran.map((f) => Number(f.split('-')[2])).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect((await client.tasks(job.id)).map((t) => t.attempt)).toEqual([1, 1, 1, 1, 1, 1]);
      expect((await client.logs(job.id)).some((l) => l.line.startsWith('backups of stragglers'))).toBe(false);
    } finally {
      client.close();
      await c.stop();
    }
  });
});
