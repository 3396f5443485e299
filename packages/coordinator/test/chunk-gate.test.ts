/**
 * A file-input job on the coordinator: the maps whose chunk is in the store
 * go out at once, the others as their chunk lands; the job's chunks are
 * pinned while it lives; one whose chunks stop coming fails saying which.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeChunkRef } from '@picompute/sdk/chunk-ref';
import { ChunkGate } from '../src/chunk-gate.js';
import { ChunkStore } from '../src/chunk-store.js';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { UploadQuota } from '../src/upload-spill.js';
import { request } from './support/build.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = [1, 2, 3].map((f) => Buffer.alloc(100, f));
const ref = (i: number) => encodeChunkRef({ hash: sha(chunks[i]!), path: 'a.txt', offset: i * 100, length: 100 });

function setUp(now: () => number, capBytes = 1000) {
  const store = new ChunkStore(join(mkdtempSync(join(tmpdir(), 'picompute-gate-')), 'chunks'), capBytes, new UploadQuota(10_000));
  store.put(sha(chunks[0]!), [chunks[0]!]);
  const kicks: number[] = [];
  const starved: string[] = [];
  const gate = new ChunkGate(
    store,
    () => kicks.push(1),
    (_job, message) => starved.push(message),
    60_000,
    now,
  );
  // Four tasks: the first chunk twice, then the two not yet sent.
  const job = new JobRecord('1', request({ taskCount: 4, chunkInputs: true }), JobInputs.fromFrames([ref(0), ref(0), ref(1), ref(2)]), 0);
  gate.attach(job);
  return { store, gate, job, kicks, starved };
}

const indices = (job: JobRecord) => {
  const s = job.start('n1', 4, 10, 0);
  return s.kind === 'send' ? s.tasks.map((t) => t.id.index) : [];
};

describe('chunk gate', () => {
  it('sends the maps whose chunk is here, and each other one when its chunk lands', () => {
    const { store, gate, job, kicks } = setUp(Date.now);
    expect(indices(job)).toEqual([0, 1]);
    expect(gate.held).toBe(2);
    store.put(sha(chunks[2]!), [chunks[2]!]);
    expect(kicks).toHaveLength(1);
    expect(indices(job)).toEqual([3]);
    store.put(sha(chunks[1]!), [chunks[1]!]);
    expect(indices(job)).toEqual([2]);
    expect(gate.held).toBe(0);
    gate.close();
  });

  it('keeps the job’s chunks while it lives, over the store’s cap, and not after', () => {
    const { store, gate, job } = setUp(Date.now, 150);
    store.put(sha(chunks[1]!), [chunks[1]!]);
    expect(store.has(sha(chunks[0]!)) && store.has(sha(chunks[1]!))).toBe(true);
    gate.detach(job);
    expect([0, 1].map((i) => store.has(sha(chunks[i]!)))).toEqual([false, true]);
    gate.close();
  });

  it('fails a job whose chunks stop coming, naming the first one missing', () => {
    let now = 1_000_000;
    const { gate, starved } = setUp(() => now);
    now += 61_000;
    gate.checkStarved();
    expect(starved).toEqual([
      expect.stringMatching(/^2 of this job's input chunks never arrived \(the first: a\.txt from byte 100, sha256 [0-9a-f]{12}…\), none in 1m00s: /),
    ]);
    gate.close();
  });
});
