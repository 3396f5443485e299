/** A job whose inputs were still being stored when the coordinator stopped was never acknowledged: it is ended, saying why, not run with tasks missing. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobInputs } from '../src/job-inputs.js';
import { openDatabase } from '../src/state/database.js';
import { StateStore } from '../src/state/store.js';

describe('a submit cut short by a stop', () => {
  it('is ended FAILED at the next start, and a whole one is recovered', () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-cut-'));
    const inputs = JobInputs.fromFrames(Array.from({ length: 1000 }, (_, i) => Buffer.from([i & 0xff])));
    const request = { name: 'n', user: 'u', bundleHash: 'b' } as never;
    let store = new StateStore(openDatabase(dir), true);
    const cut = store.insertJob(request, 1000, Buffer.from('x'), 1);
    // One slice of 10 rows' worth of time, then the process "stops".
    const next = store.insertInputs(cut, { count: 1000, get: (i) => inputs.get(i) }, 0, -1);
    expect(next).toBeLessThan(1000);
    const whole = store.insertJob(request, 1000, Buffer.from('x'), 1);
    for (let at = 0; at < 1000; ) at = store.insertInputs(whole, inputs, at, 5);
    store.close();

    store = new StateStore(openDatabase(dir), true);
    expect(store.activeJobs().map((j) => [j.job.id, j.tasks.length])).toEqual([[whole, 1000]]);
    expect(store.job(cut)).toMatchObject({
      state: 'FAILED',
      error: 'the coordinator stopped while this job was being submitted, before its id was given out; submit it again',
    });
    store.close();
  });
});
