/**
 * A coordinator SIGKILLed while a keyed job is between its phases (every map
 * done, the reduces held at a gate) and started again on the same state dir:
 * the finished maps' runs are still on the two agents' disks, the restarted
 * coordinator asks the agents for them (ListRuns) and trusts them, so the
 * job completes exactly with each map run once. An agent that comes back
 * without its runs (restarted: same node id, empty shuffle folder) has its
 * maps run again, and only those. `picompute jobs` shows the whole history
 * across the restart.
 */
import { mkdir, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import { KEY_FILE, fixture, runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { freePort, wordCorpus } from './support/keyed.js';
import { until } from './support/until.js';

const MAPS = 6;

interface Task {
  index: number;
  state: string;
  node: string;
  attempt: number;
}

/** Two one-core agents on fixed ports (an agent started again keeps its node id) and a coordinator that can be killed and started again on its state. */
async function cluster() {
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const agentPorts = ports.slice(0, 2) as [number, number];
  const coordinatorAddress = `127.0.0.1:${ports[2]}`;
  const state = stateDir();
  const startAgent = (i: number) => startDaemon(['agent', '--host', '127.0.0.1', '--port', String(agentPorts[i]), '--cores', '1', '--no-speed-probe']);
  const agents: Daemon[] = await Promise.all([startAgent(0), startAgent(1)]);
  const startCoordinator = async (flags: string[] = [], agentsUp = 2): Promise<Daemon> => {
    const c = await startDaemon([
      'coordinator',
      '--host',
      '127.0.0.1',
      '--port',
      String(ports[2]),
      '--state-dir',
      state,
      ...flags,
      ...agents.flatMap((a) => ['--agent', a.address]),
    ]);
    await until('the agents up', async () => ((c.output().match(/agent \S+ up at /g) ?? []).length >= agentsUp ? true : undefined), 15_000);
    return c;
  };
  const c = {
    coordinator: await startCoordinator(),
    agents,
    address: coordinatorAddress,
    async restartAgent(i: number) {
      await agents[i]!.stop('SIGKILL');
      agents[i] = await startAgent(i);
    },
    async restartCoordinator(flags: string[] = [], agentsUp = 2) {
      await c.coordinator.stop('SIGKILL');
      c.coordinator = await startCoordinator(flags, agentsUp);
    },
    cli: (args: string[]) => runCli([...args, '--coordinator', coordinatorAddress]),
    async tasks(id: string): Promise<Task[]> {
      const r = await c.cli(['tasks', id, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Task[];
    },
    stop: () => Promise.all([c.coordinator, ...agents].map((d) => d.stop('SIGKILL'))),
  };
  return c;
}

async function client(address: string) {
  return connect({ coordinator: address, security: await loadSecurity({ keyFile: KEY_FILE }) });
}

/** Every map has run and reported (a reduce starts only then), and the reduces wait at the gate. */
async function mapsDoneReducesGated(marks: string): Promise<string[]> {
  return until(
    'all maps done and a reduce started',
    async () => {
      const files = await readdir(marks);
      const done = new Set(files.filter((f) => f.startsWith('ran-map-')).map((f) => f.split('-')[2]));
      return done.size === MAPS && files.some((f) => f.startsWith('ran-reduce-')) ? files : undefined;
    },
    60_000,
  );
}

describe('a keyed job across a coordinator restart', () => {
  let root: string;
  let c: Awaited<ReturnType<typeof cluster>>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'picompute-keyed-restart-'));
    c = await cluster();
  });
  afterAll(() => c?.stop());

  /** A keyed word count submitted and run until every map is done and the reduces wait at `gate`. */
  async function gatedJob(name: string) {
    const input = join(root, `in${name}`);
    const expected = await wordCorpus(input, MAPS);
    const marks = join(root, `marks${name}`);
    await mkdir(marks);
    const gate = join(root, `gate${name}`);
    const first = await client(c.address);
    try {
      const id = (await first.submit(fixture('keyed/marked-wc.ts'), { input: [input], args: { dir: marks, gate }, partitions: 4 })).id;
      await mapsDoneReducesGated(marks);
      return { expected, marks, gate, id };
    } finally {
      first.close();
    }
  }

  /** The node that ran the first map, the maps it ran, and which of `c.agents` it is. */
  function nodeOfFirstMap(tasks: Task[]) {
    const node = tasks[0]!.node;
    const maps = tasks.filter((t) => t.node === node).map((t) => t.index);
    const agent = c.agents.findIndex((a) => c.coordinator.output().includes(`agent ${node} up at ${a.address}`));
    expect(agent).toBeGreaterThanOrEqual(0);
    return { node, maps, agent };
  }

  /** The job's answer is exact, and `maps` maps ran again, each saying so in a log line containing `why`. */
  async function expectExactWithReruns(id: string, expected: Map<string, number>, why: string, maps: number) {
    const again = await client(c.address);
    try {
      expect(new Map((await again.job(id).result()) as [string, number][])).toEqual(expected);
      const logs = (await again.logs(id)).map((l) => l.line);
      const reran = logs.filter((l) => l.includes(why));
      expect(reran.length, logs.join('\n')).toBe(maps);
    } finally {
      again.close();
    }
  }

  it('coordinator SIGKILLed with every map done and the reduces gated: restarted, it trusts the runs on the agents; the answer is exact, each map ran once', async () => {
    // History before the keyed job: one job that completed, one that failed.
    const done = await c.cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3']);
    expect(JSON.parse(done.stdout), done.stderr).toMatchObject({ state: 'COMPLETED', result: 5 });
    const failed = await c.cli(['submit', fixture('throws.ts'), '--json']);
    expect(failed.code).not.toBe(0);

    const { expected, marks, gate, id } = await gatedJob('');
    const before = await c.tasks(id);
    expect(before.map((t) => [t.state, t.attempt])).toEqual(Array.from({ length: MAPS }, () => ['COMPLETED', 1]));
    expect(new Set(before.map((t) => t.node)).size, 'one agent ran every map, so the runs of only one were checked').toBe(2);

    const killedAt = Date.now();
    await c.restartCoordinator();
    await c.coordinator.waitFor(/recovered 1 unfinished job/);
    expect(c.coordinator.output()).toMatch(/1 keyed job\(s\) have map runs on \S+, \S+: their maps run again unless those nodes confirm them within 30s/);
    await writeFile(gate, '');

    const again = await client(c.address);
    try {
      const pairs = (await again.job(id).result()) as [string, number][];
      expect(new Map(pairs)).toEqual(expected);
      const logs = (await again.logs(id)).map((l) => l.line);
      expect(logs.filter((l) => /after the coordinator's restart, \S+ still holds the runs of \d+ map\(s\): they do not run again/.test(l)).length).toBe(2);
      expect(logs.some((l) => l.includes('the map runs again'))).toBe(false);
    } finally {
      again.close();
    }
    // Each map ran exactly once: attempt 1 for all, where it ran before the kill, and no map started again after it.
    const after = await c.tasks(id);
    expect(after.map((t) => [t.index, t.state, t.node, t.attempt])).toEqual(before.map((t) => [t.index, 'COMPLETED', t.node, 1]));
    const maps = (await readdir(marks)).filter((f) => f.startsWith('ran-map-'));
    for (const f of maps) expect((await stat(join(marks, f))).mtimeMs, `${f} was written again after the restart`).toBeLessThan(killedAt);

    // `picompute jobs`: the whole history, before and across the restart, in order.
    const r = await c.cli(['jobs', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const jobs = JSON.parse(r.stdout) as { jobId: string; name: string; state: string; tasksTotal: number; tasksDone: number; nodes: string[] }[];
    expect(jobs.map((j) => [j.name, j.state])).toEqual([
      ['slow-square', 'COMPLETED'],
      ['throws', 'FAILED'],
      ['marked-wc', 'COMPLETED'],
    ]);
    const keyed = jobs.find((j) => j.jobId === id)!;
    expect(keyed).toMatchObject({ tasksTotal: MAPS, tasksDone: MAPS });
    expect(new Set(keyed.nodes)).toEqual(new Set(before.map((t) => t.node)));
  });

  it('an agent that comes back without its runs (restarted with the coordinator): only its maps run again, and the answer is exact', async () => {
    const { expected, gate, id } = await gatedJob('2');
    const before = await c.tasks(id);
    const { node: victimNode, maps: onVictim, agent: victim } = nodeOfFirstMap(before);

    await c.coordinator.stop('SIGKILL');
    // Started again on the same port: the same node id, and an empty shuffle folder.
    await c.restartAgent(victim);
    await writeFile(gate, '');
    await c.restartCoordinator();

    await expectExactWithReruns(id, expected, `its node ${victimNode} no longer holds all of this map's runs: the map runs again (attempt 2)`, onVictim.length);
    const after = await c.tasks(id);
    expect(after.filter((t) => t.attempt === 2).map((t) => t.index)).toEqual(onVictim);
    expect(after.every((t) => t.state === 'COMPLETED' && t.attempt <= 2)).toBe(true);
  });

  it('an agent that does not come back: its maps run again once the grace period (--runs-grace) is over, and the answer is exact', async () => {
    const { expected, gate, id } = await gatedJob('3');
    const before = await c.tasks(id);
    const { node: goneNode, maps: onGone, agent: gone } = nodeOfFirstMap(before);

    await c.coordinator.stop('SIGKILL');
    await c.agents[gone]!.stop('SIGKILL');
    await writeFile(gate, '');
    await c.restartCoordinator(['--runs-grace', '2s'], 1);

    await expectExactWithReruns(
      id,
      expected,
      "after the coordinator's restart, its node did not come back within 2s: the map runs again (attempt 2)",
      onGone.length,
    );
    const after = await c.tasks(id);
    expect(after.filter((t) => t.attempt === 2).map((t) => t.index)).toEqual(onGone);
    expect(new Set(after.map((t) => t.node))).toEqual(new Set(before.filter((t) => t.node !== goneNode).map((t) => t.node)));
  });
});
