/**
 * Files the daemons and the client create are theirs alone, and the client
 * runs only its own, checked bundles.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import { cannotRun } from './support/requirements.js';
import { notPrivate } from './support/file-modes.js';

describe('files the daemons create', () => {
  it('a fresh state dir and agent cache hold only 600 files in 700 folders', async () => {
    const root = mkdtempSync(join(tmpdir(), 'picompute-modes-'));
    chmodSync(root, 0o755);
    const [stateDir, cacheDir] = [join(root, 'state'), join(root, 'cache')];
    const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--cache-dir', cacheDir]);
    const coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address, '--state-dir', stateDir]);
    try {
      await coordinator.waitFor(/agent \S+ up at /);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3', '--coordinator', coordinator.address]);
      expect(r.code).toBe(0);
      expect(readdirSync(cacheDir).some((f) => f.endsWith('.mjs'))).toBe(true);
      expect(readdirSync(stateDir).length).toBeGreaterThan(0);
      expect(notPrivate(stateDir)).toEqual([]);
      expect(notPrivate(cacheDir)).toEqual([]);
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });
});

describe("the client's bundle cache", () => {
  const submit = (cache: string, env: Record<string, string> = {}) =>
    runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3'], { env: { XDG_CACHE_HOME: cache, ...env } });

  it('lives in the user cache folder, private; a planted bundle under the right name is not run', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'picompute-client-cache-'));
    const first = await submit(cache);
    expect(first.code).toBe(0);
    const dir = join(cache, 'picompute', 'client');
    expect(notPrivate(dir)).toEqual([]);

    const bundles = readdirSync(dir).filter((f) => f.endsWith('.mjs'));
    expect(bundles).toHaveLength(1);
    copyFileSync(fixture('planted-job.mjs'), join(dir, bundles[0]!));
    const marker = join(cache, 'planted-ran');
    const again = await submit(cache, { PLANTED_MARKER: marker });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).result).toBe(0 + 1 + 4);
    expect(existsSync(marker)).toBe(false);
  });

  it('a cache folder others may write to is refused, naming it and the fix', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'picompute-client-cache-'));
    expect((await submit(cache)).code).toBe(0);
    const dir = join(cache, 'picompute', 'client');
    chmodSync(dir, 0o777);
    const r = await submit(cache);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing the cache folder ${dir}: group or others may write to it (mode 777)`);
    expect(r.stderr).toContain(`chmod 700 ${dir}`);
  });

  // Only root can give a folder to another user.
  if (process.getuid?.() !== 0) cannotRun('a cache folder owned by another user is refused', 'needs root to give a folder to another user');
  else
    it('a cache folder owned by another user is refused', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'picompute-client-cache-'));
      expect((await submit(cache)).code).toBe(0);
      const dir = join(cache, 'picompute', 'client');
      chownSync(dir, 65534, 65534);
      const r = await submit(cache);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`refusing the cache folder ${dir}: it belongs to uid 65534, not to you (uid 0)`);
    });
});
