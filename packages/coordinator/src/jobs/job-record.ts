/**
 * One live (pending or running) job on the coordinator (its data is
 * ./job-data.ts) and its state machine: each transition (start, taskDone,
 * taskFailed, nodeLost, cancel, dependencyEnded, finish) is a method that
 * changes the record and returns what must happen next (./next.ts); the
 * caller (../cluster.ts) writes to the store and tells the watchers. Nothing
 * here does I/O, so ../../test/job-state.test.ts drives it directly.
 *
 * A fold job has more steps after its map tasks: COMBINE tasks over groups
 * of outputs and one REDUCE task (see ../fold-plan.ts), which agents run
 * because the coordinator never runs user code.
 */
import { MAX_VALUE_BYTES } from '@picompute/sdk/wire';
import { inputBytes } from '@picompute/sdk/chunk-ref';
import type { FinalJobState, JobState, LogLine, SubmitRequest, TaskError } from '@picompute/sdk/wire';
import { JobInputs } from '../job-inputs.js';
import { failedState } from '../task-table.js';
import { statsFromRow } from '../state/store.js';
import type { JobRow, TaskRow } from '../state/store.js';
import { JobData } from './job-data.js';
import { finish, IGNORED, notify } from './next.js';
import type { MapOutput, Next, Start } from './next.js';
import { combineTask, describeTask, keyedReduceTask, mapTask, REDUCE_TASK, taskKey, toWire } from './task-id.js';
import { estimateStarts, reduceLost, refetch, rerunMaps, startBackups } from './keyed-steps.js';
import { offFullDisk } from './full-disk.js';
import type { TaskId } from './task-id.js';
import type { TaskRun } from './job-data.js';

export type { TaskRun } from './job-data.js';

/** Attempts a task gets when the nodes running it are lost (not when it throws), unless the job sets maxNodeLosses. */
export const MAX_ATTEMPTS_ON_NODE_LOSS = 3;

export class JobRecord extends JobData {
  /** A job read back after a coordinator restart: done tasks stay done, the rest run again. */
  static recover(row: JobRow, tasks: TaskRow[]): JobRecord {
    const inputs = JobInputs.fromFrames(tasks.map((t) => t.input));
    const request = JSON.parse(row.request) as SubmitRequest;
    const job = new JobRecord(String(row.id), request, inputs, row.submitted_at, (j) => {
      for (const t of tasks) {
        j.attempts[t.idx] = t.attempts;
        if (!t.done) continue;
        if (request.keyed) {
          // Its runs are on a node's disk: trusted once that node confirms it still holds them (./recovered-runs.ts).
          if (!t.node || !t.output) continue;
          try {
            j.shuffle!.recovered(t.idx, t.node, t.output, inputs.get(t.idx).length);
          } catch {
            continue;
          }
          j.taskTable.started(t.idx, t.node, t.attempts, 0);
        }
        j.outputDone(t.idx, t.output ?? Buffer.alloc(0));
        j.taskTable.set(t.idx, 'COMPLETED');
      }
      return j.doneCount;
    });
    job.resumeStats(statsFromRow(row));
    if (job.startedAt) job.state = 'RUNNING';
    return job;
  }

  // ------------------------------------------------------------ transitions

  /**
   * Hands up to `count` runnable tasks to `node` (a fold step first: it
   * unblocks the end of the job), at most `maxBytes` of inputs in all (at
   * least one task). A fold step whose values would not fit one message
   * fails the job instead, saying why.
   */
  start(node: string, nodeCores: number, count: number, now: number, maxBytes = MAX_VALUE_BYTES): Start {
    const tasks: { id: TaskId; attempt: number; input: Buffer; values: Buffer[] }[] = [];
    const fold = this.fold;
    const claim = (id: TaskId, attempt: number) => this.running.set(taskKey(id), { id, node, attempt, since: now });
    // Its disk had no room for this job's files (the scheduler passes it over; this is for a plan made just before).
    if (this.avoid.has(node)) return { kind: 'send', tasks, began: false };
    if (fold?.ready.length) {
      const group = fold.ready[0]!;
      const [from, to] = fold.members(group);
      const values = this.outputs.slice(from, to) as Buffer[];
      if (!this.#fits(values, `folding map outputs ${from}–${to - 1}`, maxBytes)) return finish('FAILED');
      fold.ready.shift();
      claim(combineTask(group), 1);
      tasks.push({ id: combineTask(group), attempt: 1, input: Buffer.alloc(0), values });
    } else if (fold?.final === 'pending') {
      const values = (fold.grouped ? fold.partials : this.outputs) as Buffer[];
      if (!this.#fits(values, 'the reduce step', maxBytes)) return finish('FAILED');
      fold.final = 'running';
      claim(REDUCE_TASK, 1);
      tasks.push({ id: REDUCE_TASK, attempt: 1, input: Buffer.alloc(0), values });
    } else if (this.shuffle?.runnable) {
      for (let r = this.shuffle.takeReduce(); r; r = tasks.length < count ? this.shuffle.takeReduce() : undefined) {
        claim(keyedReduceTask(r.partition), r.attempt);
        tasks.push({ id: keyedReduceTask(r.partition), attempt: r.attempt, input: r.input, values: [] });
      }
    } else {
      // A batch goes out only as large as one message may be.
      for (const index of this.pending.take(count, (i) => this.inputs.get(i).length, maxBytes)) {
        const attempt = ++this.attempts[index]!;
        const id = mapTask(index);
        claim(id, attempt);
        this.taskTable.started(index, node, attempt, now);
        tasks.push({ id, attempt, input: this.inputs.get(index), values: [] });
      }
    }
    // A backup goes alone in its batch: when its twin wins, stopping that batch frees its core and nothing else.
    if (!tasks.length) startBackups(this, node, 1, now, tasks);
    if (this.#estimatesStarts) {
      this.coresOf.set(node, Math.max(1, nodeCores));
      estimateStarts(this, node, Math.max(1, nodeCores), now);
    }
    this.attemptsTotal += tasks.length;
    const began = this.state === 'PENDING';
    if (began) {
      this.state = 'RUNNING';
      this.reason = '';
      this.startedAt = now;
    }
    if (!this.nodes.has(node)) {
      this.nodes.add(node);
      this.cores += nodeCores;
    }
    return { kind: 'send', tasks, began };
  }

  /** A task's output, from `node`: ignored unless that node runs that attempt of it now (a dead node's late word, a duplicate). */
  taskDone(node: string, id: TaskId, attempt: number, output: Buffer, durationMs: number, heapMb: number, now = Date.now()): Next {
    if (!this.#settle(node, id, attempt, durationMs, heapMb, now)) return IGNORED;
    if (id.kind === 'REDUCE') {
      this.result = output;
      this.fold!.final = 'done';
      return finish('COMPLETED');
    }
    if (id.kind === 'COMBINE') {
      this.fold!.combined(id.index, output);
      // The group's outputs are folded (and stored): keep only the fold in memory.
      const [from, to] = this.fold!.members(id.index);
      this.outputs.fill(undefined, from, to);
      return notify();
    }
    if (id.kind === 'KEYED_REDUCE') {
      const shuffle = this.shuffle!;
      try {
        if (!shuffle.reduceDone(id.index, node, output) || !shuffle.complete) return notify();
      } catch (err) {
        this.error = `${(err as Error).message}; that agent may run another picompute version`;
        return finish('FAILED');
      }
      this.result = shuffle.result();
      return finish('COMPLETED');
    }
    if (this.done[id.index]) return IGNORED;
    if (this.shuffle) {
      try {
        this.shuffle.mapDone(id.index, node, output, inputBytes(this.inputs.get(id.index)));
      } catch (err) {
        this.error = `task ${id.index} finished on ${node} but its report of where its output lies cannot be read (${(err as Error).message}); that agent may run another picompute version`;
        return finish('FAILED');
      }
    }
    this.taskTable.ran(id.index, 'COMPLETED', durationMs, heapMb);
    this.outputDone(id.index, output);
    // A keyed map's output is stored with its node: a restarted coordinator asks that node for the runs before running the map again.
    // (Built without object spreads: this runs once per task, and two spreads were a tenth of a tiny task's coordinator time.)
    const saved: MapOutput = { index: id.index, attempt, value: output };
    if (this.shuffle) saved.node = node;
    if (this.doneCount === this.total && !this.fold && !this.shuffle) return finish('COMPLETED', saved);
    return notify([], saved);
  }

  /** A task's failure, from `node`: run again (a throw under --retries) or the job ends. */
  taskFailed(node: string, id: TaskId, attempt: number, error: TaskError | null, durationMs: number, heapMb: number, now = Date.now()): Next {
    const e = error ?? { kind: 'THREW', message: 'the task failed without saying why', stack: '', inputPreview: '', fetchNode: '' };
    // One of a task's two copies failed: the other carries on as the task (if its fault is the task's own, it fails too).
    const twin = this.#dropCopy(node, id, attempt, now);
    if (twin) {
      if (e.kind === 'DISK_FULL') this.avoid.add(node);
      const line = `the copy on ${node} failed (${e.kind}: ${e.message.split('\n')[0]}); the other copy, on ${twin.node}, carries on`;
      return notify([{ task: toWire(id), node: 'coordinator', line }]);
    }
    if (!this.#settle(node, id, attempt, durationMs, heapMb, now)) return IGNORED;
    if (e.kind === 'DISK_FULL' && (id.kind === 'MAP' || id.kind === 'KEYED_REDUCE')) return offFullDisk(this, id, node, e.message);
    if (e.kind === 'FETCH_FAILED' && id.kind === 'KEYED_REDUCE') return refetch(this, id.index, node, e.fetchNode, e.message);
    if (id.kind === 'MAP') this.taskTable.ran(id.index, failedState(e.kind), durationMs, heapMb);
    // --retries re-runs a task that threw (not one past its limits: it would only fail again).
    if (e.kind === 'THREW' && id.kind === 'MAP' && attempt <= this.request.retries) {
      this.retries++;
      this.pending.push(id.index);
      this.taskTable.set(id.index, 'PENDING');
      return notify();
    }
    const detail = e.kind === 'THREW' && e.stack ? e.stack : e.message;
    const input = e.inputPreview ? `\n  input: ${e.inputPreview}` : '';
    this.error = `${describeTask(id)} failed on ${node} (attempt ${attempt})${input}\n  ${detail.replaceAll('\n', '\n  ')}`;
    return finish(e.kind === 'TIMEOUT' ? 'TIMEOUT' : 'FAILED');
  }

  /** `node` is gone with these tasks of the job: they wait for a node again, or the job gives up on one lost too often. */
  nodeLost(node: string, lost: readonly { id: TaskId; attempt: number }[], reason: string): Next {
    if (this.final) return IGNORED;
    const logs: LogLine[] = [];
    let changed = false;
    for (const t of lost) {
      const key = taskKey(t.id);
      const backup = this.backups.get(key);
      if (backup?.node === node && backup.attempt === t.attempt) {
        this.backups.delete(key);
        changed = true;
        continue;
      }
      const run = this.running.get(key);
      if (!run || run.node !== node || run.attempt !== t.attempt) continue;
      this.running.delete(key);
      changed = true;
      if (backup) {
        // Its backup carries on as the task.
        this.running.set(key, backup);
        this.backups.delete(key);
        continue;
      }
      if (t.id.kind === 'REDUCE') this.fold!.final = 'pending';
      else if (t.id.kind === 'COMBINE') this.fold!.ready.push(t.id.index);
      else if (t.id.kind === 'KEYED_REDUCE') {
        const lost = reduceLost(this, t.id.index, `was lost with its node ${node} (${reason})`);
        if (lost) return lost;
      } else {
        const index = t.id.index;
        const max = this.maxNodeLosses;
        this.taskTable.set(index, 'PENDING');
        if (this.attempts[index]! >= max) {
          this.taskTable.set(index, 'NODE_FAIL');
          this.error = `task ${index} was lost with its node ${max} times (last: ${node}, ${reason}); giving up`;
          return finish('NODE_FAIL');
        }
        this.retries++;
        this.pending.push(index);
        // Said to the job's watchers at once: until a node takes the task again, nothing else would tell them why it stalls.
        const line = `its node ${node} is gone (${reason}); the task waits for a node to run it again (attempt ${this.attempts[index]! + 1} of ${max})`;
        logs.push({ task: index, node: 'coordinator', line });
      }
    }
    if (this.shuffle) {
      // Finished maps lose their outputs with the node too (MapReduce, not Dask: only those run again).
      const rerun = rerunMaps(this, node, `its node ${node} is gone (${reason})`);
      if (!Array.isArray(rerun)) return rerun;
      if (rerun.length) {
        changed = true;
        logs.push(...rerun);
      }
    }
    return changed ? notify(logs) : IGNORED;
  }

  cancel(): Next {
    if (this.final) return IGNORED;
    this.error = 'cancelled by the user';
    return finish('CANCELLED');
  }

  /** The job this one waits for (afterok) is in `other` state now (undefined: no such job): held, released, or never satisfied. */
  dependencyEnded(other: JobState | undefined): Next {
    const on = this.dependsOn;
    if (!on || this.final) return IGNORED;
    if (!other || other === 'COMPLETED') return this.reason === 'Dependency' ? { kind: 'reason', reason: '' } : IGNORED;
    if (other === 'PENDING' || other === 'RUNNING') return { kind: 'reason', reason: 'Dependency' };
    this.reason = 'DependencyNeverSatisfied';
    this.error = `DEPENDENCY_NEVER_SATISFIED: job ${on} ended ${other}, so afterok:${on} can never hold`;
    return finish('CANCELLED');
  }

  /** The job ends in `state`: what was still waiting or running never will. */
  finish(state: FinalJobState, now: number): void {
    this.state = state;
    this.endedAt = now;
    if (!this.startedAt) this.startedAt = now;
    this.pending.clear();
    this.running.clear();
    this.backups.clear();
    // The job's end stops every run of it on every node.
    this.losers.length = 0;
    this.taskTable.ended();
  }

  /** Takes a result of a task that `node` runs now (that attempt); false for any other. */
  #settle(node: string, id: TaskId, attempt: number, durationMs: number, heapMb: number, now: number): boolean {
    if (this.final) return false;
    const key = taskKey(id);
    const run = this.running.get(key);
    const backup = this.backups.get(key);
    const isRun = run?.node === node && run.attempt === attempt;
    const isBackup = backup?.node === node && backup.attempt === attempt;
    if (!isRun && !isBackup) {
      // A late word (a backup's loser) still means a core there is free again.
      this.#coreFreed(node, now);
      return false;
    }
    // The first of a task and its backup to finish settles it; the other is stopped on its node, and its word, should it come, is ignored.
    this.running.delete(key);
    if (backup) {
      this.backups.delete(key);
      if (isBackup) this.backupsWon++;
      this.losers.push(isBackup ? run! : backup);
      // `picompute tasks` shows the run that counted.
      if (!isBackup && id.kind === 'MAP') this.taskTable.started(id.index, run!.node, run!.attempt, run!.since);
    }
    this.ran(durationMs, heapMb);
    if (id.kind === 'MAP') this.mapTimes.add(durationMs);
    else if (id.kind === 'KEYED_REDUCE') this.reduceTimes.add(durationMs);
    this.#coreFreed(node, now);
    return true;
  }

  /** A failed run of a task whose twin (backup or straggler) still runs: dropped, and the twin returned; undefined for any other run. */
  #dropCopy(node: string, id: TaskId, attempt: number, now: number): TaskRun | undefined {
    if (this.final) return undefined;
    const key = taskKey(id);
    const run = this.running.get(key);
    const backup = this.backups.get(key);
    if (!run || !backup) return undefined;
    const isRun = run.node === node && run.attempt === attempt;
    if (!isRun && !(backup.node === node && backup.attempt === attempt)) return undefined;
    if (isRun) this.running.set(key, backup);
    this.backups.delete(key);
    this.#coreFreed(node, now);
    return isRun ? backup : run;
  }

  /**
   * Whether this job estimates when its tasks got a core (TaskRun.startedAt), so
   * one queued on its agent is not taken for a straggler: a keyed job, and any
   * job while its tasks go one per batch (a task of tens of ms or more; a
   * batch of tiny tasks is measured from when it was sent, which spares the
   * walk over thousands of runs each result would cost).
   */
  get #estimatesStarts(): boolean {
    return !!this.shuffle || this.batchSize === 1;
  }

  /** A run of this job on `node` ended: its core goes to the next of this job's tasks waiting there. */
  #coreFreed(node: string, now: number): void {
    if (this.#estimatesStarts && this.coresOf.has(node)) estimateStarts(this, node, this.coresOf.get(node)!, now);
  }

  /**
   * A fold task carries the values it folds in one message. Past the limit it
   * would break the agent's stream like an oversized batch; the job fails
   * instead, saying why (false, with error set).
   */
  #fits(values: Buffer[], what: string, maxBytes: number): boolean {
    const bytes = values.reduce((n, v) => n + v.length, 0);
    if (bytes <= maxBytes) return true;
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    this.error =
      `${what} needs ${mib(bytes)} of values in one message, over the ${mib(maxBytes)} a message may carry: return smaller map outputs, or ` +
      'leave out reduce and fold the array of outputs yourself';
    return false;
  }
}
