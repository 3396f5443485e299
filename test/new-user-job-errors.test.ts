/**
 * Issue #12, 4 to 6: mistakes in a job file are caught and reported in the
 * user's terms: finalize without reduce, class instances and uncloneable
 * values crossing the wire, and errors from inputs/reduce/finalize/combine
 * with the frames in the user's own file.
 */
import { describe, expect, it } from 'vitest';
import { CodecError, encode } from '@picompute/sdk/codec';
import { fixture, runCli } from './support/cli.js';

const job = (name: string) => fixture(`new-user/${name}`);
const submit = (name: string, ...args: string[]) => runCli(['submit', job(name), '--local', ...args]);

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('finalize without reduce', () => {
  it('is refused at submit, saying what to do, and nothing runs', async () => {
    const r = await submit('finalize-without-reduce.ts');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('`finalize` runs on the value `reduce` folds, and this job has no `reduce`');
    expect(r.stdout).toBe('');
  });
});

describe('values that do not round-trip', () => {
  it('the codec refuses a class instance, naming the class and where it sits', () => {
    expect(() => encode({ points: [{ x: 0, y: 0 }, new Point(1, 2)] })).toThrow(
      /value\.points\[1\] is a Point, which would arrive as a plain object without its class/,
    );
    expect(() => encode(new Map([['home', new Point(1, 2)]]))).toThrow(/value\.get\("home"\) is a Point/);
    // What does round-trip stays accepted.
    expect(() =>
      encode({ d: new Date(0), m: new Map([[1, new Set([1n])]]), b: Buffer.from([1]), e: new TypeError('x'), n: Object.create(null) }),
    ).not.toThrow();
  });

  it('the job whose map returns one fails naming the task and the class', async () => {
    const r = await submit('class-output.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/task 1 failed[^]*is a Point, which would arrive as a plain object/);
  });

  it('an uncloneable value: one full stop, and a stack that does not point into the codec', async () => {
    let caught: unknown;
    try {
      encode({ callback: () => 1 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CodecError);
    const err = caught as Error;
    expect(err.message).toMatch(/could not be cloned\. Values crossing/);
    expect(err.message).not.toContain('..');
    expect(err.stack).not.toMatch(/codec\.js/);
    expect(err.stack).toMatch(/new-user-job-errors\.test\.ts/);
    const r = await submit('uncloneable-output.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/task 0 failed[^]*could not be cloned\. Values crossing/);
    expect(r.stderr).not.toMatch(/codec\.js/);
  });
});

describe("errors in the user's code show the frames in the user's file", () => {
  it('from inputs()', async () => {
    const r = await submit('inputs-throws.ts');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('inputs(args) failed: Error: catalogue missing');
    expect(r.stderr).toMatch(/at readCatalogue \(.*inputs-throws\.ts:5:\d+\)/);
  });

  it.each([
    ['reduce', ['--arg', 'n=8'], /at checkedAdd \(.*fold-throws\.ts:5:\d+\)/],
    ['combine (a group fold of a larger job)', ['--arg', 'n=20'], /at checkedAdd \(.*fold-throws\.ts:5:\d+\)/],
    ['finalize', ['--arg', 'in=finalize'], /at finish \(.*fold-throws\.ts:10:\d+\)/],
  ])('from %s', async (_, args, frame) => {
    const r = await submit('fold-throws.ts', ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(frame);
  });
});
