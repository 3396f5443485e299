import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ThrottleReader, parseThrottled, throttleReasons } from '../src/throttle.js';

describe("the Pi firmware's throttle state", () => {
  it('reads sysfs (hex without 0x) and vcgencmd (throttled=0x…) forms alike', () => {
    expect(parseThrottled('50005\n')).toBe(0x50005);
    expect(parseThrottled('throttled=0x80008\n')).toBe(0x80008);
    expect(parseThrottled('0')).toBe(0);
    expect(parseThrottled('error')).toBe(-1);
  });

  it('names the reasons live and since boot', () => {
    expect(throttleReasons(0x50005)).toEqual({ live: ['under-voltage', 'throttled'], sinceBoot: ['under-voltage', 'throttled'] });
    expect(throttleReasons(0x80000)).toEqual({ live: [], sinceBoot: ['soft temperature limit'] });
    expect(throttleReasons(-1)).toEqual({ live: [], sinceBoot: [] });
  });

  it('reads a file given as its path, and gives -1 (without trying vcgencmd) for a path that is not there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'throttle-'));
    writeFileSync(join(dir, 'get_throttled'), '20002\n');
    expect(await new ThrottleReader(join(dir, 'get_throttled')).read()).toBe(0x20002);
    expect(await new ThrottleReader(join(dir, 'missing')).read()).toBe(-1);
  });
});
