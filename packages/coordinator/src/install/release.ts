/**
 * What a coordinator serves to nodes that join: its installer and the
 * release tarball of its own version. Run from an installed release (a
 * folder with release.json), it serves that folder, archived on first
 * request; run from a clone, it serves dist/picompute-<version>.tgz that
 * `pnpm run package` made there.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { tarGzFolder } from './tar.js';

export interface Release {
  version: string;
  /** Undefined when there is nothing to serve; `missing` says why and what to do. */
  tarball?: { bytes: Buffer; sha256: string };
  missing?: string;
  installScript: string;
}

/** The release folder or the workspace this code runs from: the first parent with release.json or pnpm-workspace.yaml. */
function findRoot(from: string): { kind: 'release' | 'workspace'; dir: string } | undefined {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'release.json'))) return { kind: 'release', dir };
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return { kind: 'workspace', dir };
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

let cached: Release | undefined;

export function loadRelease(from = dirname(fileURLToPath(import.meta.url))): Release {
  if (cached) return cached;
  const root = findRoot(from);
  if (!root) throw new Error(`cannot tell where this coordinator was installed from (no release.json or pnpm-workspace.yaml above ${from})`);
  const script = root.kind === 'release' ? join(root.dir, 'coordinator', 'install.sh') : join(root.dir, 'packages', 'coordinator', 'install', 'install.sh');
  const installScript = readFileSync(script, 'utf8');
  const seal = (bytes: Buffer) => ({ bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
  if (root.kind === 'release') return (cached = { version: PICOMPUTE_VERSION, installScript, tarball: seal(tarGzFolder(root.dir)) });
  const file = join(root.dir, 'dist', `picompute-${PICOMPUTE_VERSION}.tgz`);
  // Not cached: `pnpm run package` may make it while the coordinator runs.
  if (!existsSync(file))
    return {
      version: PICOMPUTE_VERSION,
      installScript,
      missing: `this coordinator runs from a clone (${root.dir}) that has no release tarball to hand out: run \`pnpm run package\` there (it makes dist/picompute-${PICOMPUTE_VERSION}.tgz)`,
    };
  return { version: PICOMPUTE_VERSION, installScript, tarball: seal(readFileSync(file)) };
}
