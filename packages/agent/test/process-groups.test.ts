import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { groupStillOurs } from '../src/process-groups.js';

const started: number[] = [];
afterEach(() => {
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
});

function detached(script: string) {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(child.pid!);
  return child;
}

describe('killing the process group a task’s child led', () => {
  it('is safe while the leader is our child, alive or not yet reaped', () => {
    const child = detached('sleep 60');
    expect(groupStillOurs(child.pid!)).toBe(true);
  });

  it('is safe once the leader is reaped while its background job still runs in the group', async () => {
    const child = detached('sleep 60 & echo $!');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(groupStillOurs(child.pid!)).toBe(true);
  });

  it('is refused for a number that now names a process which is not our child (its pid reused)', async () => {
    // The background sleep: its pid names a live process whose parent is not us, as a reused pid would.
    const child = detached('sleep 60 >/dev/null & echo $!');
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    // 'close', not 'exit': the output may still be on its way when the shell has exited (the sleep keeps no pipe open).
    await once(child, 'close');
    const stranger = Number(out.trim());
    expect(stranger).toBeGreaterThan(1);
    expect(groupStillOurs(stranger)).toBe(false);
  });

  it('is refused for a number that names neither a process nor a group', async () => {
    const child = detached('exit 0');
    await once(child, 'exit');
    expect(groupStillOurs(child.pid!)).toBe(false);
  });
});
