/**
 * The release tarball (`pnpm run package`) made from the current build, and
 * installed the way a user installs it: `npm install -g` of the file into a
 * prefix, offline.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGER = fileURLToPath(new URL('../../packages/cli/package-release.mjs', import.meta.url));

/** Makes dist/picompute-<version>.tgz from the built workspace; returns its path. */
export function packageRelease(): string {
  return execFileSync(process.execPath, [PACKAGER], { stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim()
    .split('\n')
    .at(-1)!;
}

export interface Installed {
  prefix: string;
  /** The installed command, on the prefix's bin/ as npm linked it. */
  bin: string;
}

/** `npm install -g --prefix TMP --offline TARBALL`: nothing may come from a registry. */
export function installRelease(tarball: string): Installed {
  const prefix = mkdtempSync(join(tmpdir(), 'picompute-release-'));
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], { stdio: 'pipe' });
  return { prefix, bin: join(prefix, 'bin', 'picompute') };
}
