/**
 * Labels an agent gives itself: `arch=` from Node, `model=` from the device
 * tree (here a fixture file through the same reader as
 * /proc/device-tree/model), usable with `submit --constraint` beside the
 * hand-given `--label`s, alone, all of several (&) or any of several (|).
 */
import { arch } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';

describe('labels an agent reports by itself', () => {
  let pi5: Daemon;
  let pi4: Daemon;
  let coordinator: Daemon;
  const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
  const idOf = (a: Daemon) => a.output().match(/agent (\S+) listening/)![1]!;

  beforeAll(async () => {
    const agent = (model: string, extra: string[] = []) =>
      startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--model-path', fixture(`device-tree/${model}`), ...extra]);
    [pi5, pi4] = await Promise.all([agent('model-pi5', ['--label', 'gpu']), agent('model-pi4')]);
    coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', pi5.address, '--agent', pi4.address]);
    await coordinator.waitFor(/(agent \S+ up at[^]*){2}/);
  });

  afterAll(async () => {
    await Promise.all([coordinator, pi5, pi4].map((d) => d?.stop('SIGKILL')));
  });

  it('`nodes` lists arch= and model= beside the hand-given labels', async () => {
    const nodes = JSON.parse((await cli(['nodes', '--json'])).stdout) as { address: string; info: { labels: string[] } }[];
    const labels = (d: Daemon) => nodes.find((n) => n.address === d.address)!.info.labels;
    expect(labels(pi5)).toEqual(['gpu', `arch=${arch()}`, 'model=pi5']);
    expect(labels(pi4)).toEqual([`arch=${arch()}`, 'model=pi4']);
    expect((await cli(['nodes'])).stdout).toContain(`gpu,arch=${arch()},model=pi5`);
  });

  it('--constraint model=pi5 runs only there; & needs all, | any of them', async () => {
    const submit = async (constraint: string) => {
      const r = await cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=6', '--constraint', constraint]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.result).toBe(55);
      return [...out.stats.nodes].sort();
    };
    expect(await submit('model=pi5')).toEqual([idOf(pi5)]);
    expect(await submit('model=pi4')).toEqual([idOf(pi4)]);
    expect(await submit(`arch=${arch()}&gpu`)).toEqual([idOf(pi5)]);
    expect(await submit('model=pi4|model=pi5')).toEqual([idOf(pi5), idOf(pi4)].sort());
  });

  it('refuses at submit a constraint no node matches, saying so', async () => {
    const r = await cli(['submit', fixture('slow-square.ts'), '--constraint', 'model=cm4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('label "model=cm4"');
    expect(r.stderr).toContain('nodes with that label: none');
  });
});
