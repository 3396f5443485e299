/** What an agent measures and reads of its own hardware: the labels it gives itself and its speed per core. */
import { arch } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hardwareLabels, modelLabel } from '../src/hardware-labels.js';
import { measureSpeed } from '../src/speed-probe.js';

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

describe('speed probe', () => {
  it('measures kernel runs a second in a worker thread, the event loop free meanwhile', async () => {
    const probe = measureSpeed(100);
    // The event loop stays free meanwhile.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const speed = await probe.result;
    clearInterval(timer);
    expect(speed).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(0);
  });

  it('stopped early, it answers 0 (the node then counts as average) and leaves no thread behind', async () => {
    const probe = measureSpeed(10_000);
    probe.stop();
    expect(await probe.result).toBe(0);
  });
});
