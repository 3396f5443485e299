/**
 * A firmware throttle-bits file (what `vcgencmd get_throttled` reports) that
 * a test flips while an agent reads it through --throttle-path. Written whole
 * and renamed into place: the agent never reads a half-written file.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function throttleFile(prefix: string): { path: string; set(value: string): void } {
  const path = join(mkdtempSync(join(tmpdir(), prefix)), 'get_throttled');
  const set = (value: string) => {
    writeFileSync(`${path}.new`, `${value}\n`);
    renameSync(`${path}.new`, path);
  };
  set('0x0');
  return { path, set };
}
