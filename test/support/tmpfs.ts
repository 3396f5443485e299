/** A small tmpfs (root only): a disk a test can fill without touching the machine's own. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const canMount = process.getuid?.() === 0;

/** `at`: an existing folder to mount it on (an agent's spill folder inside its cache, say); default a new temporary one. */
export function mountTmpfs(sizeMb: number, at?: string): { dir: string; unmount: () => void } {
  const dir = at ?? mkdtempSync(join(tmpdir(), 'picompute-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=700`, 'tmpfs', dir]);
  return {
    dir,
    unmount() {
      // Lazy: a daemon killed a moment ago may still hold a file open.
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a file until the disk has no room left; returns its path. */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  for (const chunk of [1024 * 1024, 4096]) {
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${path}`, `bs=${chunk}`, 'oflag=append', 'conv=notrunc'], { stdio: 'ignore' });
    } catch {
      // dd stops with "No space left on device": that is the point.
    }
  }
  return path;
}

/** Every file under `dir` with its size, and the file system's free space: what a failed disk test prints. */
export function diskUse(dir: string): string {
  try {
    return execFileSync('sh', ['-c', 'du -ak "$1"; df -k "$1"', 'du', dir], { encoding: 'utf8' });
  } catch (err) {
    return `(cannot list ${dir}: ${(err as Error).message})`;
  }
}
