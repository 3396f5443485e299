/** What an agent measures and reads of its own hardware: the labels it gives itself and its speed per core. */
import { arch } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuQuotaCores } from '../src/cpu-quota.js';
import { hardwareLabels, modelLabel } from '../src/hardware-labels.js';
import { measureCore, NodeSpeed } from '../src/speed-probe.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/device-tree/${name}`, import.meta.url));

describe('hardware labels', () => {
  it('reads the board from the device tree file (NUL-terminated) and the CPU from Node', async () => {
    expect(await hardwareLabels(fixture('model-pi5'))).toEqual([`arch=${arch()}`, 'model=pi5']);
    expect(await hardwareLabels(fixture('model-pi4'))).toEqual([`arch=${arch()}`, 'model=pi4']);
  });

  it('gives no model label where there is no device tree', async () => {
    expect(await hardwareLabels(fixture('no-such-file'))).toEqual([`arch=${arch()}`]);
  });

  it('names Pi boards shortly and other boards by their name', () => {
    expect(modelLabel('Raspberry Pi 5 Model B Rev 1.0\0')).toBe('pi5');
    expect(modelLabel('Raspberry Pi 3 Model B Plus Rev 1.3')).toBe('pi3');
    expect(modelLabel('Raspberry Pi Compute Module 4 Rev 1.1')).toBe('cm4');
    expect(modelLabel('Raspberry Pi Zero 2 W Rev 1.0')).toBe('pi-zero2');
    expect(modelLabel('Raspberry Pi Zero W Rev 1.1')).toBe('pi-zero');
    expect(modelLabel('Radxa ROCK 5B')).toBe('radxa-rock-5b');
    expect(modelLabel('\0')).toBe('');
  });
});

/** A fake cgroup file system: `files` relative to its root, and the /proc/self/cgroup text. */
function cgroupTree(procCgroup: string, files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'picompute-cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  writeFileSync(join(root, 'proc-self-cgroup'), procCgroup);
  return { root, procCgroup: join(root, 'proc-self-cgroup') };
}

describe('CPU quota', () => {
  it('reads cgroup v2 cpu.max, the tightest of the group and its parents', async () => {
    const tree = cgroupTree('0::/system.slice/agent\n', {
      'cpu.max': 'max 100000\n',
      'system.slice/cpu.max': '150000 100000\n',
      'system.slice/agent/cpu.max': '50000 100000\n',
    });
    expect(await cpuQuotaCores(tree)).toBe(0.5);
    const loose = cgroupTree('0::/a\n', { 'a/cpu.max': 'max 100000\n' });
    expect(await cpuQuotaCores(loose)).toBe(Infinity);
  });

  it('reads cgroup v1 cpu.cfs_quota_us over cpu.cfs_period_us, under cpu or cpu,cpuacct', async () => {
    const v1 = cgroupTree('4:memory:/x\n2:cpu,cpuacct:/slow\n', {
      'cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      'cpu,cpuacct/slow/cpu.cfs_quota_us': '25000\n',
      'cpu,cpuacct/slow/cpu.cfs_period_us': '100000\n',
    });
    expect(await cpuQuotaCores(v1)).toBe(0.25);
    const none = cgroupTree('1:cpu:/\n', { 'cpu/cpu.cfs_quota_us': '-1\n', 'cpu/cpu.cfs_period_us': '100000\n' });
    expect(await cpuQuotaCores(none)).toBe(Infinity);
  });

  it('is no limit where there are no cgroups', async () => {
    expect(await cpuQuotaCores({ procCgroup: '/no/such/file', root: '/no/such/dir' })).toBe(Infinity);
  });
});

describe('speed probe', () => {
  it('measures kernel runs a second in a worker thread, the event loop free meanwhile', async () => {
    const probe = measureCore(100);
    // The event loop stays free meanwhile.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const speed = await probe.result;
    clearInterval(timer);
    expect(speed).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(0);
  });

  /** A NodeSpeed's figure once it has finished `probes` probes (hang guard only). */
  async function after(speed: NodeSpeed, probes: number): Promise<number> {
    for (let i = 0; i < 600 && speed.probes < probes; i++) await new Promise((r) => setTimeout(r, 20));
    return speed.perCore;
  }

  it("scales the core's speed by the share of a core each thread gets under the quota", async () => {
    const quarter = cgroupTree('0::/slow\n', { 'slow/cpu.max': '25000 100000\n' });
    const free = new NodeSpeed({ threads: () => 2, idle: () => true, probeMs: 100, everyMs: 0, cgroup: { procCgroup: '/no/such/file' } }).start();
    const held = new NodeSpeed({ threads: () => 2, idle: () => true, probeMs: 100, everyMs: 0, cgroup: quarter }).start();
    const [f, h] = await Promise.all([after(free, 1), after(held, 1)]);
    expect(f).toBeGreaterThan(0);
    // Two threads sharing a quarter of a core: an eighth each. The two probes run side by side, so within noise.
    expect(h).toBeLessThan(f / 3);
  });

  it('probes again while idle: a quota lifted since start counts at the next probe; a busy node keeps its figure', async () => {
    const cgroup = cgroupTree('0::/held\n', { 'held/cpu.max': '25000 100000\n' });
    let idle = true;
    const speed = new NodeSpeed({ threads: () => 2, idle: () => idle, probeMs: 50, everyMs: 100, cgroup }).start();
    try {
      const held = await after(speed, 1);
      expect(held).toBeGreaterThan(0);
      writeFileSync(join(cgroup.root!, 'held/cpu.max'), 'max 100000\n');
      // Two more: one may have read the quota before it was lifted (a loaded machine ran this test and lost that race).
      const lifted = await after(speed, speed.probes + 2);
      // An eighth of a core each, then whole cores: within noise of 8×.
      expect(lifted).toBeGreaterThan(3 * held);
      // Busy: no probe starts, and the figure holds whatever the quota says now.
      idle = false;
      // A probe that started while idle ends (a worker thread on a loaded machine can take longer to start than a fixed wait).
      for (let i = 0; i < 600 && speed.probing; i++) await new Promise((r) => setTimeout(r, 20));
      const probes = speed.probes;
      writeFileSync(join(cgroup.root!, 'held/cpu.max'), '25000 100000\n');
      await new Promise((r) => setTimeout(r, 400));
      expect(speed.probes).toBe(probes);
      expect(speed.perCore).toBeGreaterThan(3 * held);
    } finally {
      speed.stop();
    }
  });

  it('stopped early, it answers 0 (the node then counts as fast) and leaves no thread behind', async () => {
    const probe = measureCore(10_000);
    probe.stop();
    expect(await probe.result).toBe(0);
  });
});
