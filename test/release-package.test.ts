/**
 * The release tarball: one file, installed with `npm install -g`, runs on a
 * plain `node` with nothing else: no node_modules, no compiler, no pnpm on
 * the PATH. Its coordinator and agent make a working cluster; its `submit`
 * says why it cannot bundle (no esbuild in a release).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import { installRelease, packageRelease } from './support/release.js';

const EXAMPLE = new URL('../examples/monte-carlo-pi.ts', import.meta.url).pathname;
/** Only node's own folder and the system's basic tools: what a fresh Pi has. */
const BARE_PATH = `${dirname(process.execPath)}:/usr/bin:/bin`;

describe('release tarball', () => {
  const tarball = packageRelease();
  const installed = installRelease(tarball);

  it('holds one bundle, the dashboard files and a native binding for this machine only under native/', () => {
    const files = execFileSync('tar', ['-tzf', tarball]).toString().split('\n').filter(Boolean);
    expect(files).toContain('package/bin/picompute.mjs');
    expect(files).toContain('package/bin/task-worker.mjs');
    expect(files).toContain('package/coordinator/dashboard/index.html');
    expect(files).toContain(`package/native/better_sqlite3-${process.platform}-${process.arch}.node`);
    expect(files.filter((f) => f.includes('node_modules'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.node') && !f.startsWith('package/native/'))).toEqual([]);
  });

  it('puts `picompute` on the prefix PATH, and it runs with only node', async () => {
    expect(statSync(installed.bin).mode & 0o111).not.toBe(0);
    const r = await runCli(['--version'], { cli: installed.bin, env: { PATH: BARE_PATH } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(readdirSync(join(installed.prefix, 'lib', 'node_modules', 'picompute'))).not.toContain('node_modules');
  });

  it("its coordinator and agent run a job submitted from the workspace's command", async () => {
    const env = { PATH: BARE_PATH };
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--no-dashboard'], { cli: installed.bin, env });
    const port = coordinator.address.split(':').at(-1)!;
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '2', '--coordinator', `127.0.0.1:${port}`], { cli: installed.bin, env });
    try {
      await agent.waitFor(/registered with the coordinator/);
      const r = await runCli(['submit', EXAMPLE, '--arg', 'tasks=4', '--arg', 'points=200000', '--json', '--coordinator', `127.0.0.1:${port}`]);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED' });
      expect(JSON.parse(r.stdout).result).toBeCloseTo(Math.PI, 1);
      const nodes = await runCli(['nodes', '--coordinator', `127.0.0.1:${port}`], { cli: installed.bin, env });
      expect(nodes.stdout).toMatch(/idle\s+0\/2/);
    } finally {
      await agent.stop();
      await coordinator.stop();
    }
  });

  it('`nodes` marks an agent older than its coordinator, and says how to upgrade it', async () => {
    // A copy of the release that calls itself 0.0.1: an agent installed before the coordinator's upgrade.
    const old = mkdtempSync(join(tmpdir(), 'picompute-old-'));
    cpSync(join(installed.prefix, 'lib', 'node_modules', 'picompute'), old, { recursive: true });
    // The bundle is minified: `PICOMPUTE_VERSION="…"`, with or without spaces.
    const versionLine = /PICOMPUTE_VERSION ?= ?"[^"]+"/;
    const chunks = readdirSync(join(old, 'bin')).filter((f) => versionLine.test(readFileSync(join(old, 'bin', f), 'utf8')));
    expect(chunks).toHaveLength(1);
    const file = join(old, 'bin', chunks[0]!);
    writeFileSync(file, readFileSync(file, 'utf8').replace(versionLine, 'PICOMPUTE_VERSION="0.0.1"'));

    const env = { PATH: BARE_PATH };
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--no-dashboard'], { cli: installed.bin, env });
    const port = coordinator.address.split(':').at(-1)!;
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--coordinator', `127.0.0.1:${port}`], {
      cli: join(old, 'bin', 'picompute.mjs'),
      env,
    });
    try {
      await agent.waitFor(/registered with the coordinator/);
      const table = await runCli(['nodes', '--coordinator', `127.0.0.1:${port}`], { cli: installed.bin, env });
      expect(table.stdout).toMatch(/ 0\.0\.1 \(older\) /);
      expect(table.stderr).toMatch(/1 node runs an older picompute than the coordinator \(\d+\.\d+\.\d+\): .+\. Upgrade each with `picompute drain NODE`/);
      const json = JSON.parse((await runCli(['nodes', '--json', '--coordinator', `127.0.0.1:${port}`], { cli: installed.bin, env })).stdout);
      expect(json[0]).toMatchObject({ outdated: true, info: { version: '0.0.1' } });
    } finally {
      await agent.stop();
      await coordinator.stop();
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('without a SQLite binding for this machine its coordinator stops saying so, and its agent runs all the same', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'picompute-nobinding-'));
    cpSync(join(installed.prefix, 'lib', 'node_modules', 'picompute'), copy, { recursive: true });
    rmSync(join(copy, 'native'), { recursive: true });
    const cli = join(copy, 'bin', 'picompute.mjs');
    const env = { PATH: BARE_PATH };
    try {
      const r = await runCli(['coordinator', '--host', '127.0.0.1', '--port', '0', '--no-dashboard', '--state-dir', join(copy, 'state')], { cli, env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `this picompute release carries no SQLite binding for ${process.platform}-${process.arch} \\(the coordinator needs one; the agent does not\\)`,
        ),
      );
      const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1'], { cli, env });
      await agent.stop();
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('its submit names the missing bundler and what to do', async () => {
    const r = await runCli(['submit', fixture('concat.ts')], { cli: installed.bin, env: { PATH: BARE_PATH } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/esbuild, which this release does not carry/);
  });

  it('the workspace bin exists before any build, so `pnpm install` links it without a warning', () => {
    const shim = new URL('../packages/cli/bin/picompute.mjs', import.meta.url);
    expect(existsSync(shim)).toBe(true);
    expect(execFileSync('git', ['ls-files', '-s', 'packages/cli/bin/picompute.mjs']).toString()).toMatch(/^100755 /);
  });
});
