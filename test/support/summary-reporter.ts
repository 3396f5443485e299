/**
 * Ends every test run with one plain line, `N passed, M failed` (and
 * `, K skipped` when any were), summed over all suites: the line CI reads.
 * Above it, one line per failure naming what failed, so the cause is on
 * screen next to the count.
 *
 * A failing beforeAll leaves its tests "skipped" and a failing afterAll
 * leaves them "passed"; counted by test state alone, a run that broke in
 * setup would read as fine. So a suite whose own hook failed counts as one
 * failure, named with the hook.
 */
import { relative } from 'node:path';
import type { Reporter, ReportedHookContext, TestModule, TestSuite } from 'vitest/node';

type Entity = TestSuite | TestModule;

export default class SummaryReporter implements Reporter {
  /** Hooks that started and never reported an end: vitest reports no end for a hook that threw. */
  private unfinished = new Map<Entity, Set<string>>();

  onHookStart(hook: ReportedHookContext): void {
    if (hook.name !== 'beforeAll' && hook.name !== 'afterAll') return;
    const names = this.unfinished.get(hook.entity) ?? new Set();
    names.add(hook.name);
    this.unfinished.set(hook.entity, names);
  }

  onHookEnd(hook: ReportedHookContext): void {
    if (hook.name === 'beforeAll' || hook.name === 'afterAll') this.unfinished.get(hook.entity)?.delete(hook.name);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let skipped = 0;
    const failures: string[] = [];
    const loudSkips: string[] = [];
    for (const mod of modules) {
      const file = relative(process.cwd(), mod.moduleId);
      let tests = 0;
      for (const test of mod.children.allTests()) {
        tests++;
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failures.push(`FAILED ${file} > ${test.fullName}: ${firstLine(test.result().errors?.[0]?.message)}`);
        else {
          skipped++;
          // A skip for a missing tool or privilege (test/support/requirements.ts) is repeated here so it is not missed.
          if (test.name.includes(' SKIPPED: ')) loudSkips.push(`SKIPPED ${file} > ${test.fullName}`);
        }
      }
      for (const entity of [mod, ...mod.children.allSuites()]) {
        const own = entity.errors();
        if (own.length === 0) continue;
        const where = entity.type === 'module' ? file : `${file} > ${entity.fullName}`;
        failures.push(`FAILED ${where}: ${this.culprit(entity, tests)}: ${firstLine(own[0]?.message)}`);
      }
      // A file that failed to load without a recorded error is a failure all the same.
      if (tests === 0 && mod.state() === 'failed' && mod.errors().length === 0) failures.push(`FAILED ${file}: the file did not run`);
    }
    for (const err of errors) failures.push(`FAILED outside any test: ${firstLine((err as { message?: string })?.message ?? String(err))}`);
    const notes = [...loudSkips, ...failures];
    const out = notes.length ? `\n${notes.join('\n')}\n` : '\n';
    process.stdout.write(`${out}${passed} passed, ${failures.length} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }

  private culprit(entity: Entity, tests: number): string {
    const hooks = [...(this.unfinished.get(entity) ?? [])];
    if (hooks.length) return `${hooks.join(' and ')} failed`;
    // No hook left open: the error came while collecting the file (an import, a syntax error, a throw at top level).
    return tests === 0 ? 'could not be loaded' : 'failed outside its tests';
  }
}

function firstLine(text: string | undefined): string {
  return (text ?? 'no message').split('\n')[0]!.slice(0, 300);
}
