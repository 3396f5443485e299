/**
 * deploy/ansible/site.yml, the Ansible alternative to the join line: its
 * syntax, and a real run with `--connection=local` on a bare test host
 * (network namespace; /etc, /opt, /var overlaid, test/netns/bare-host.sh)
 * that is both coordinator and agent. It writes the user, the key (mode 600,
 * its content never in the output), the env file and both units; a second
 * run changes nothing. systemd does not run here, so the service tasks are
 * skipped, as on any host without it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareHost } from './support/bare-host.js';
import type { BareHost } from './support/bare-host.js';
import { KEY_FILE } from './support/cli.js';
import { netnsProblem, sh } from './support/netns.js';
import { packageRelease } from './support/release.js';
import { cannotRun, missingCommands } from './support/requirements.js';

const ANSIBLE = fileURLToPath(new URL('../deploy/ansible/', import.meta.url));
const RUN = randomBytes(2).toString('hex');
const problem = netnsProblem() ?? (missingCommands(['ansible-playbook']).length ? 'needs ansible-playbook (Debian: apt install ansible)' : undefined);

/** "ok=N changed=M …" of the play recap, for the one host. */
function recap(output: string): Record<string, number> {
  const line = /^bare\s+:\s+(.*)$/m.exec(output)?.[1];
  if (!line) throw new Error(`no play recap in:\n${output}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

if (problem !== undefined) cannotRun('the Ansible playbook (deploy/ansible)', problem);
else
  describe('Ansible playbook', () => {
    let host: BareHost;
    let work: string;

    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), 'picompute-ansible-'));
      const tarball = packageRelease();
      writeFileSync(
        join(work, 'inventory.yml'),
        JSON.stringify({
          all: {
            vars: {
              ansible_connection: 'local',
              ansible_python_interpreter: '/usr/bin/python3',
              picompute_tarball: tarball,
              picompute_key_file: KEY_FILE,
            },
            children: { coordinator: { hosts: { bare: null } }, agents: { hosts: { bare: null } } },
          },
        }),
      );
      sh('gc');
      sh('up', RUN, '1');
      host = bareHost(RUN, 1);
    }, 60_000);
    afterAll(() => {
      host?.down();
      sh('down', RUN);
      rmSync(work, { recursive: true, force: true });
    });

    const play = () =>
      host.sh(
        `export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=${work} ANSIBLE_LOCAL_TEMP=${work}/tmp ANSIBLE_REMOTE_TEMP=${work}/tmp ANSIBLE_NOCOLOR=1 ` +
          `ANSIBLE_RETRY_FILES_ENABLED=0; ansible-playbook -i ${work}/inventory.yml -e ansible_become=false ${ANSIBLE}site.yml`,
        240_000,
      );

    it('passes --syntax-check with the example inventory', () => {
      const out = execFileSync('ansible-playbook', ['--syntax-check', '-i', `${ANSIBLE}inventory.example.yml`, `${ANSIBLE}site.yml`], {
        stdio: 'pipe',
        env: { ...process.env, ANSIBLE_NOCOLOR: '1' },
      }).toString();
      expect(out).toMatch(/playbook: .*site\.yml/);
    });

    it('installs on a bare host with --connection=local, and a second run changes nothing', async () => {
      const first = await play();
      expect(first.code, first.stdout + first.stderr).toBe(0);
      expect(recap(first.stdout).changed).toBeGreaterThan(0);
      // no_log: the key's task shows no content, and the key is nowhere in the output.
      const key = readFileSync(KEY_FILE, 'utf8').trim();
      expect(first.stdout + first.stderr).not.toContain(key);
      expect(host.written('/etc/picompute/cluster.key')?.trim()).toBe(key);
      expect(host.mode('/etc/picompute/cluster.key')).toBe(0o600);
      expect(host.mode('/etc/picompute/picompute.env')).toBe(0o600);
      expect(host.written('/etc/passwd')).toMatch(/^picompute:x:\d+:\d+::\/var\/lib\/picompute:\/usr\/sbin\/nologin$/m);
      expect(host.written('/etc/systemd/system/picompute-agent.service')).toMatch(
        /^ExecStart=\S+ \/opt\/picompute\/current\/bin\/picompute\.mjs agent --coordinator bare:7700$/m,
      );
      expect(host.written('/etc/systemd/system/picompute-coordinator.service')).toMatch(/^Restart=always$/m);
      expect(host.written('/opt/picompute/current/package.json')).toMatch(/"name": "picompute"/);

      const second = await play();
      expect(second.code, second.stdout + second.stderr).toBe(0);
      expect(recap(second.stdout)).toMatchObject({ changed: 0, failed: 0 });
    }, 600_000);
  });
