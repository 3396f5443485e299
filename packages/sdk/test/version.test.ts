import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PICOMPUTE_VERSION } from '../src/version.js';

describe('the picompute version', () => {
  it('is written once: every package.json agrees with PICOMPUTE_VERSION', () => {
    const root = new URL('../../', import.meta.url);
    const versions = readdirSync(root).map((dir) => [dir, JSON.parse(readFileSync(new URL(`${dir}/package.json`, root), 'utf8')).version]);
    expect(versions.length).toBeGreaterThanOrEqual(4);
    expect(versions).toEqual(versions.map(([dir]) => [dir, PICOMPUTE_VERSION]));
  });
});
