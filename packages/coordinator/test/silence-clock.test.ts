import { describe, expect, it } from 'vitest';
import { SLOW_BYTES_PER_MS, SilenceClock } from '../src/silence-clock.js';

describe('an agent link counting silence', () => {
  it('counts from the last message, so an agent that spoke just before a tick is not a tick closer to dead', () => {
    const clock = new SilenceClock(0, 1000);
    clock.tick(500);
    clock.heard(999);
    expect(clock.tick(1000)).toBe(1);
    // Heartbeats a second apart under a 3 s limit: the silence never passes a second and a half.
    let worst = 0;
    for (let t = 1500, heard = 999; t <= 20_000; t += 500) {
      if (t - heard >= 1000) {
        heard += 1000;
        clock.heard(heard);
      }
      worst = Math.max(worst, clock.tick(t));
    }
    expect(worst).toBeLessThanOrEqual(1000);
  });

  it('counts a tick that fires late, its loop busy, as one tick: the messages of that time wait unread', () => {
    const clock = new SilenceClock(0, 1000);
    expect(clock.tick(500)).toBe(500);
    expect(clock.tick(9500)).toBe(1500);
    clock.heard(9600);
    expect(clock.tick(10_000)).toBe(400);
  });
});

describe('an agent that announced a big message', () => {
  it('may stay silent longer by the time its bytes take at a slow node’s speed, until its next message', () => {
    const clock = new SilenceClock(0, 1000);
    clock.heard(0);
    clock.expect(60 * 1048576);
    expect(clock.graceMs).toBeCloseTo((60 * 1048576) / SLOW_BYTES_PER_MS);
    expect(clock.graceMs).toBe(15_000);
    clock.heard(9000);
    expect(clock.graceMs).toBe(0);
  });
});
