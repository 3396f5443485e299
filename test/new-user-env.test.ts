/**
 * Issue #12, 1 and 2: the SDK reads PICOMPUTE_MDNS and PICOMPUTE_COORDINATOR
 * as the CLI does, and `pnpm picompute` takes relative paths from where the
 * user typed the command (INIT_CWD), not from inside the clone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childEnv, fixture, runCli, stateDir } from './support/cli.js';
import { cannotRun } from './support/requirements.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = fixture('probes/sdk-connect-env.mjs');

/** A network namespace of our own (no multicast can leave it), where the machine allows one. */
const canUnshare = spawnSync('unshare', ['-rn', 'true']).status === 0;

function probe(args: string[] = []): { ms: number; error?: string; address?: string; udpSockets: number } {
  // `ip link set lo up` so the probe's own coordinator is reachable on loopback inside the namespace.
  const script = `ip link set lo up 2>/dev/null; exec "${process.execPath}" "${PROBE}" ${args.join(' ')}`;
  const out = execFileSync('unshare', ['-rn', 'sh', '-c', script], {
    cwd: ROOT,
    env: childEnv({ PROBE_STATE_DIR: stateDir() }),
    timeout: 30_000,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

if (!canUnshare) cannotRun('SDK environment tests (in a network namespace of their own)', '`unshare -rn` is not allowed here');
else
  describe('SDK connect() reads the environment as the CLI does', () => {
    it('with PICOMPUTE_MDNS=off and no address it opens no mDNS socket and says how to name a coordinator', () => {
      const r = probe();
      expect(r.udpSockets).toBe(0);
      expect(r.error).toMatch(/mDNS is off \(PICOMPUTE_MDNS=off\).*PICOMPUTE_COORDINATOR=host:port/);
      expect(r.ms).toBeLessThan(1000);
    });

    it('with no address it connects to the coordinator named in PICOMPUTE_COORDINATOR', () => {
      const r = probe(['--coordinator-in-env']);
      expect(r.error).toBeUndefined();
      expect(r.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(r.udpSockets).toBe(0);
    });
  });

describe('pnpm picompute resolves relative paths where the user ran it (INIT_CWD)', () => {
  it('submit finds a job file relative to INIT_CWD when pnpm runs the command inside the clone', async () => {
    const home = mkdtempSync(join(tmpdir(), 'picompute-user-dir-'));
    copyFileSync(fixture('slow-square.ts'), join(home, 'wordfreq.ts'));
    // What `pnpm -C <clone> picompute submit wordfreq.ts` hands the command: cwd is the clone, INIT_CWD the user's folder.
    const env = { INIT_CWD: home, npm_package_json: join(ROOT, 'package.json') };
    const r = await runCli(['submit', 'wordfreq.ts', '--local', '--arg', 'n=3', '--json'], { cwd: ROOT, env });
    expect(r.stderr).not.toMatch(/not found/);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 0 + 1 + 4 });
  });

  it('--key-file is taken from INIT_CWD too', async () => {
    const home = mkdtempSync(join(tmpdir(), 'picompute-user-dir-'));
    const env = { INIT_CWD: home, npm_package_json: join(ROOT, 'package.json') };
    const r = await runCli(['init', '--key-file', 'my.key'], { cwd: ROOT, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`cluster key written to ${join(home, 'my.key')}`);
  });
});
