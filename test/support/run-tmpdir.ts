/**
 * Vitest's global setup: the whole run's temporary files (the tests' own and
 * every daemon's they start) go under one folder, removed at the end, so
 * runs do not pile up state folders, chunk caches and corpora in /tmp (a
 * machine here held 73 GB of them). Like /tmp, the folder is sticky and open
 * to every user: PostgreSQL's data folder and the tests that run as another
 * user live under it too.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-test-run-'));
  chmodSync(dir, 0o1777);
  // os.tmpdir() reads TMPDIR: the test workers and every process they start inherit it.
  process.env.TMPDIR = dir;
  return () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      // A tmpfs a test could not unmount: say so rather than fail a green run.
      console.error(`could not remove the run's temporary folder ${dir}: ${(err as Error).message}`);
    }
  };
}
