/** Every file and folder under a path with its permission bits, for tests of who may read or write what. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function modesUnder(root: string): { path: string; dir: boolean; mode: string }[] {
  const found: { path: string; dir: boolean; mode: string }[] = [];
  const walk = (path: string) => {
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s) return; // removed meanwhile (a WAL at close)
    found.push({ path, dir: s.isDirectory(), mode: (s.mode & 0o777).toString(8) });
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return found;
}

/** The entries whose mode is not 700 (folders) or 600 (files). */
export function notPrivate(root: string) {
  return modesUnder(root).filter((e) => e.mode !== (e.dir ? '700' : '600'));
}
