import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { until } from './support/until.js';
import { throttleFile } from './support/throttle-file.js';

type Node = { info: { id: string }; address: string; state: string; speedFactor: number; slowed: string };

/** `{ node id: value }` for one metric of a scrape. */
function perNode(text: string, metric: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${metric}\\{node="([^"]+)"\\} (\\S+)$`, 'gm'))) out[m[1]!] = Number(m[2]);
  return out;
}

describe("the coordinator's speed and slowed gauges", () => {
  const { path: bits, set: setBits } = throttleFile('picompute-metrics-speed-');
  const daemons: Daemon[] = [];
  let hot: Daemon;
  let cool: Daemon;
  let coordinator: Daemon;
  let metrics = '';

  beforeAll(async () => {
    setBits('0x0');
    hot = await startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '1', '--throttle-path', bits]);
    cool = await startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '1', '--throttle-path', fixture('no-such-throttle-file')]);
    daemons.push(hot, cool);
    coordinator = await startDaemon([
      'coordinator',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--metrics-port',
      '0',
      '--agent',
      hot.address,
      '--agent',
      cool.address,
    ]);
    daemons.push(coordinator);
    metrics = await coordinator.waitFor(/metrics at http:\/\/(\S+)\/metrics/);
    await coordinator.waitFor(/agent .* up at .*\n[^]*agent .* up at /);
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  });

  const scrape = async () => {
    const res = await fetch(`http://${metrics}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };
  const nodes = async () => JSON.parse((await runCli(['nodes', '--json', '--coordinator', coordinator.address])).stdout) as Node[];

  it('gives the factor `nodes` shows per node, and slowed 1 only while the node reports throttling live', async () => {
    const listed = await until('both nodes measured', async () => {
      const ns = await nodes();
      return ns.length === 2 && ns.every((n) => n.speedFactor > 0) ? ns : undefined;
    });
    const hotId = listed.find((n) => n.address === hot.address)!.info.id;
    const coolId = listed.find((n) => n.address === cool.address)!.info.id;

    const text = await scrape();
    expect(text).toContain('# TYPE picompute_node_speed_factor gauge');
    expect(text).toContain('# TYPE picompute_node_slowed gauge');
    const factors = perNode(text, 'picompute_node_speed_factor');
    expect(Object.keys(factors).sort()).toEqual([hotId, coolId].sort());
    for (const n of listed) expect(factors[n.info.id], n.info.id).toBeCloseTo(n.speedFactor, 6);
    expect(Math.min(...Object.values(factors))).toBe(1);
    expect(perNode(text, 'picompute_node_slowed')).toEqual({ [hotId]: 0, [coolId]: 0 });

    setBits('0x80008');
    await until('the hot node slowed in /metrics', async () => (perNode(await scrape(), 'picompute_node_slowed')[hotId] === 1 ? true : undefined));
    expect(perNode(await scrape(), 'picompute_node_slowed')[coolId]).toBe(0);
    expect((await nodes()).find((n) => n.info.id === hotId)!.slowed).toBe('throttled: soft temperature limit');

    // A since-boot bit only: recovered.
    setBits('0x80000');
    await until('the hot node recovered in /metrics', async () => (perNode(await scrape(), 'picompute_node_slowed')[hotId] === 0 ? true : undefined));
  });

  it('drops a node that goes down from both gauges (labels stay bounded by the nodes up)', async () => {
    const coolId = (await nodes()).find((n) => n.address === cool.address)!.info.id;
    await cool.stop('SIGKILL');
    await until('the killed node down', async () => ((await nodes()).find((n) => n.info.id === coolId)?.state.startsWith('down') ? true : undefined));
    const text = await scrape();
    expect(Object.keys(perNode(text, 'picompute_node_speed_factor'))).not.toContain(coolId);
    expect(Object.keys(perNode(text, 'picompute_node_slowed'))).not.toContain(coolId);
    // Alone, the remaining node is the slowest up: 1.
    expect(Object.values(perNode(text, 'picompute_node_speed_factor'))).toEqual([1]);
  });
});
