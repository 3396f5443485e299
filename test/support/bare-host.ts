/**
 * Bare test hosts (test/netns/bare-host.sh): a network-namespace host whose
 * system folders are overlays, with only node and the basic commands on its
 * PATH, for installer tests. What the installer wrote is read from the
 * overlays' upper folders on this machine.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BARE_SH = fileURLToPath(new URL('../netns/bare-host.sh', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface BareHost {
  dir: string;
  /** Runs `sh -c script` on the host as root. */
  sh(script: string, timeoutMs?: number): Promise<Run>;
  /** Starts `sh -c script` and keeps it running; `output()` is what it printed so far. */
  start(script: string): { proc: ChildProcess; output: () => string };
  /** The file at `path` (absolute, as the host sees it) as the installer left it, if it wrote it. */
  written(path: string): string | undefined;
  /** Every file and folder the host's commands wrote, relative to its overlays (etc/…, opt/…, var_lib/…). */
  changes(): string[];
  /** Replaces command `name` on the host's PATH by a shell script (a clock that is off, a full disk), or removes it. */
  fake(name: string, script?: string): void;
  /** mode bits of a written file. */
  mode(path: string): number;
  down(): void;
}

const OVERLAYS: [string, string][] = [
  ['/etc/', 'etc'],
  ['/opt/', 'opt'],
  ['/var/lib/', 'var_lib'],
  ['/var/cache/', 'var_cache'],
  ['/usr/local/', 'usr_local'],
];

export function bareHost(run: string, index: number, o: { node?: boolean } = {}): BareHost {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-bare-'));
  execFileSync('bash', [BARE_SH, 'up', run, String(index), dir, ...(o.node === false ? ['--no-node'] : [])], { stdio: 'pipe' });
  const upper = (path: string) => {
    const hit = OVERLAYS.find(([prefix]) => path.startsWith(prefix));
    if (!hit) throw new Error(`${path} is not under an overlaid folder`);
    return join(dir, 'upper', hit[1], path.slice(hit[0].length));
  };
  const children = new Set<ChildProcess>();
  return {
    dir,
    sh(script, timeoutMs = 60_000) {
      const child = spawn('bash', [BARE_SH, 'exec', dir, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      return new Promise((resolve) =>
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        }),
      );
    },
    start(script) {
      const proc = spawn('bash', [BARE_SH, 'exec', dir, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(proc);
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      return { proc, output: () => out };
    },
    written(path) {
      const file = upper(path);
      return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    },
    fake(name, script) {
      const file = join(dir, 'bin', name);
      rmSync(file, { force: true });
      if (script !== undefined) writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    },
    mode: (path) => statSync(upper(path)).mode & 0o7777,
    changes() {
      const out: string[] = [];
      const walk = (abs: string, rel: string) => {
        for (const name of readdirSync(abs)) {
          out.push(`${rel}${name}`);
          if (statSync(join(abs, name)).isDirectory()) walk(join(abs, name), `${rel}${name}/`);
        }
      };
      walk(join(dir, 'upper'), '');
      // The overlay folders themselves are made by bare-host.sh.
      return out.filter((p) => !OVERLAYS.some(([, flat]) => p === flat));
    },
    down() {
      for (const c of children) c.kill('SIGKILL');
      execFileSync('bash', [BARE_SH, 'down', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
