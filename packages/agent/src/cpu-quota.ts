/**
 * The CPU time this process may use, in cores, from its cgroup's quota
 * (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the
 * tightest of the group and its parents); Infinity where none is set. A
 * container given `--cpus 0.5`, or an agent a test holds to 25 % of a core,
 * is that much slower whatever its cores can do: ./speed-probe.ts scales
 * its figure by this.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface CgroupPaths {
  /** Default /proc/self/cgroup. */
  procCgroup?: string;
  /** Where cgroup file systems are mounted; default /sys/fs/cgroup. */
  root?: string;
}

const read = (path: string) =>
  readFile(path, 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );

export async function cpuQuotaCores(paths: CgroupPaths = {}): Promise<number> {
  const root = paths.root ?? '/sys/fs/cgroup';
  const lines = (await read(paths.procCgroup ?? '/proc/self/cgroup'))?.split('\n') ?? [];
  let cores = Infinity;
  for (const line of lines) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (controllers === '') cores = Math.min(cores, (await tightest(join(root, path), root, v2Quota)) ?? Infinity);
    else if (controllers!.split(',').includes('cpu'))
      // v1 mounts the cpu controller at cpu, or cpu,cpuacct (a link to it, or the mount itself).
      for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
        const base = join(root, mount);
        const found = await tightest(join(base, path), base, v1Quota);
        if (found !== undefined) {
          cores = Math.min(cores, found);
          break;
        }
      }
  }
  return cores;
}

/** The smallest quota from `dir` up to `top`; Infinity where the files exist but set none, undefined where they do not exist. */
async function tightest(dir: string, top: string, quota: (dir: string) => Promise<number | undefined>): Promise<number | undefined> {
  let seen: number | undefined;
  for (let d = dir; ; d = dirname(d)) {
    const q = await quota(d);
    if (q !== undefined) seen = Math.min(seen ?? Infinity, q);
    if (d === top || d.length <= top.length || d === dirname(d)) return seen;
  }
}

async function v2Quota(dir: string): Promise<number | undefined> {
  const max = await read(join(dir, 'cpu.max'));
  if (max === undefined) return undefined;
  const [quota, period] = max.split(/\s+/);
  return quota === 'max' || !Number(period) ? Infinity : Number(quota) / Number(period);
}

async function v1Quota(dir: string): Promise<number | undefined> {
  const quota = await read(join(dir, 'cpu.cfs_quota_us'));
  const period = await read(join(dir, 'cpu.cfs_period_us'));
  if (quota === undefined || period === undefined) return undefined;
  return Number(quota) < 0 || !Number(period) ? Infinity : Number(quota) / Number(period);
}
