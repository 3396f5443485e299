/**
 * An input file the submitting user may not read: the submit names it and
 * the reason, exits 2 and sends nothing. As root every file is readable, so
 * there the CLI runs in a user namespace as an unprivileged user (uid 1000
 * inside, root's own files still its own outside): a file of mode 000 is then
 * refused to it as to anyone.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, fixture } from './support/cli.js';
import { cannotRun } from './support/requirements.js';

const asRoot = process.getuid?.() === 0;
// Without privileges there is nothing to drop; as root, a user namespace drops them.
const prefix = asRoot ? ['unshare', '--user', '--map-user=1000'] : [];
const usable = !asRoot || spawnSync('unshare', ['--user', '--map-user=1000', 'true']).status === 0;

if (!usable) cannotRun('an unreadable input file', 'running as root and `unshare --user` (util-linux, user namespaces) does not work here');
else
  describe('an input file that cannot be read', () => {
    it('is named with the reason, exit 2, for a keyed and a plain job alike', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'picompute-unreadable-'));
      await writeFile(join(dir, 'a.txt'), 'hello world\n');
      await writeFile(join(dir, 'secret.txt'), 'not for you\n');
      await chmod(join(dir, 'secret.txt'), 0o000);
      for (const job of ['keyed/wc.ts', 'file-inputs/line-lengths.ts']) {
        const [cmd, ...args] = [...prefix, process.execPath, CLI, 'submit', fixture(job), '--local', '--input', dir];
        const r = spawnSync(cmd!, args, { encoding: 'utf8', env: { ...process.env, PICOMPUTE_MDNS: 'off' }, timeout: 60_000 });
        expect(r.stderr).toContain(`input file ${join(dir, 'secret.txt')} cannot be read: EACCES`);
        expect(r.status).toBe(2);
        expect(r.stderr).not.toMatch(/job \d+ (completed|submitted)/);
      }
    });
  });
