/**
 * Where a keyed job's finished maps left their runs survives a coordinator
 * restart: stored with each map's output (outputs.node, schema 4, added to
 * an older database by its migration), read back as maps that wait for their
 * node's word. Confirmed runs make the maps done there (reduces may start,
 * told the node's new address); missing runs, or a node that never answers
 * within the grace period, run exactly those maps again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { runsListed, runsUnconfirmed } from '../src/jobs/recovered-runs.js';
import { openDatabase } from '../src/state/database.js';
import { StateStore } from '../src/state/store.js';
import { request } from './support/build.js';

const MAPS = 4;
const manifest = (index: number) => Buffer.from(JSON.stringify({ runs: [0, 1].map((p) => ({ p, id: `m${index}-a1-s0-p${p}`, bytes: 10 })) }));
const runsOf = (...maps: number[]) => new Set(maps.flatMap((i) => [`m${i}-a1-s0-p0`, `m${i}-a1-s0-p1`]));

/** A keyed job whose four maps finished, 0 and 1 on node a, 2 and 3 on node b, and the store closed (the coordinator killed). */
function storedJob(): string {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-keyed-recovery-'));
  const store = new StateStore(openDatabase(dir), true);
  const inputs = JobInputs.fromFrames(Array.from({ length: MAPS }, (_, i) => Buffer.from(`in${i}`)));
  const id = store.insertJob(request({ taskCount: MAPS, keyed: true, partitions: 2 }), MAPS, Buffer.from('bundle'), 1);
  store.insertInputs(id, inputs, 0, 1000);
  for (let i = 0; i < MAPS; i++) store.taskDone(id, i, 1, manifest(i), i + 1, true, i < 2 ? 'a' : 'b');
  store.close();
  return dir;
}

function recover(dir: string): JobRecord {
  const store = new StateStore(openDatabase(dir), true);
  const [active] = store.activeJobs();
  store.close();
  return JobRecord.recover(active!.job, active!.tasks);
}

describe('a keyed job recovered after a coordinator restart', () => {
  it('waits for its nodes: confirmed runs count as done where they were, and the reduces are told the nodes as they are now', () => {
    const job = recover(storedJob());
    expect(job.doneCount).toBe(MAPS);
    expect(job.runnable).toBe(0);
    expect(job.shuffle!.unconfirmedNodes).toEqual(new Set(['a', 'b']));
    expect(job.taskTable.rows().map((t) => [t.state, t.node, t.attempt])).toEqual([
      ['COMPLETED', 'a', 1],
      ['COMPLETED', 'a', 1],
      ['COMPLETED', 'b', 1],
      ['COMPLETED', 'b', 1],
    ]);
    expect(runsListed(job, 'a', 'a-now:7701', runsOf(0, 1)).kind).toBe('notify');
    expect(job.runnable).toBe(0);
    runsListed(job, 'b', 'b-now:7701', runsOf(2, 3));
    expect(job.runnable).toBe(2);
    expect(job.pending.length).toBe(0);
    expect(job.shuffle!.plan(0).sources).toEqual([
      { node: 'a', address: 'a-now:7701', runs: ['m0-a1-s0-p0', 'm1-a1-s0-p0'] },
      { node: 'b', address: 'b-now:7701', runs: ['m2-a1-s0-p0', 'm3-a1-s0-p0'] },
    ]);
  });

  it('a map with a run missing from its node runs again, and only it', () => {
    const job = recover(storedJob());
    const held = runsOf(0, 1);
    held.delete('m1-a1-s0-p1');
    const next = runsListed(job, 'a', 'a:7701', held);
    expect(next.kind === 'notify' && next.logs.map((l) => [l.task, l.line])).toEqual([
      [1, "after the coordinator's restart, its node a no longer holds all of this map's runs: the map runs again (attempt 2)"],
      [-1, "after the coordinator's restart, a still holds the runs of 1 map(s): they do not run again"],
    ]);
    expect([...job.pending.take(10, () => 0, 1e9)]).toEqual([1]);
    expect(job.doneCount).toBe(MAPS - 1);
  });

  it('maps whose node does not answer within the grace period run again; a late answer changes nothing', () => {
    const job = recover(storedJob());
    runsListed(job, 'a', 'a:7701', runsOf(0, 1));
    const next = runsUnconfirmed(job, undefined, 'its node did not come back within 30s');
    expect(next.kind === 'notify' && next.logs.map((l) => l.task)).toEqual([2, 3]);
    expect(job.pending.length).toBe(2);
    expect(runsListed(job, 'b', 'b:7701', runsOf(2, 3)).kind).toBe('ignored');
    expect(job.pending.length).toBe(2);
  });

  it('a database of schema 3 gains outputs.node at open; its stored map outputs have no node and so run again', () => {
    const dir = storedJob();
    const db = openDatabase(dir);
    db.exec('ALTER TABLE outputs DROP COLUMN node');
    db.pragma('user_version = 3');
    db.close();
    const again = openDatabase(dir);
    expect(again.pragma('user_version', { simple: true })).toBe(4);
    expect((again.pragma('table_info(outputs)') as { name: string }[]).map((c) => c.name)).toContain('node');
    again.close();
    const job = recover(dir);
    expect(job.doneCount).toBe(0);
    expect(job.runnable).toBe(MAPS);
    expect(job.shuffle!.unconfirmedNodes.size).toBe(0);
  });
});
