/**
 * Tests that need something of the machine (root, `ip`, avahi). In CI a
 * missing tool or privilege must not pass for green, so there it is a failed
 * test with the reason; on a developer's machine the tests are skipped, and
 * the skip says why in its name and on stderr.
 */
import { execFileSync } from 'node:child_process';
import { it } from 'vitest';

export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** Registers, in place of tests that cannot run here, one test that fails in CI and is skipped elsewhere. */
export function cannotRun(what: string, reason: string): void {
  if (IN_CI) {
    it(`${what}: cannot run here, and CI (CI=${process.env.CI}) does not skip`, () => {
      throw new Error(`${reason} (install or grant it: see .ci/run)`);
    });
    return;
  }
  console.warn(`SKIPPED: ${what}: ${reason}`);
  it.skip(`${what} SKIPPED: ${reason}`, () => {});
}

/** The commands of `names` that are not on PATH. */
export function missingCommands(names: string[]): string[] {
  return names.filter((cmd) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' });
      return false;
    } catch {
      return true;
    }
  });
}
