/**
 * The reduce phase of a keyed job (reduceByKey), as MapReduce runs it: each
 * map task leaves one or more sorted runs per partition on its agent's disk
 * and reports them (its output is a JSON manifest); once every map has, the
 * R reduce tasks become runnable, each told which node holds which of its
 * partition's runs (a JSON plan: node id, address, run ids). The reducers
 * fetch the runs from those agents themselves.
 *
 * A node lost while its runs may still be fetched has exactly its maps run
 * again (only if some partition is still to be reduced); reduces wait until
 * every map has a live location again. A reduce that could not fetch from a
 * node (FETCH_FAILED) is planned again the same way instead of failing the
 * job. A reduce writes its part to its own agent's disk and reports only
 * where it is (PartNote); the job's result is those notes in partition order
 * (JSON, packed as frames), and clients read each part from its agent
 * through GetPart (../part-proxy.ts). A node lost before the job completed
 * takes its parts with it: those partitions are reduced again (and the maps
 * they need whose runs were there run again).
 *
 * Pure bookkeeping: the job's state machine (./job-record.ts) calls it.
 */
import { packFrames } from '@picompute/sdk/framing';

interface RunInfo {
  p: number;
  id: string;
  bytes: number;
}

/** Where a finished part is: what the reducer reported, and the node it ran on. */
export interface PartLocation {
  node: string;
  address: string;
  part: string;
  bytes: number;
  keys: number;
}

interface MapLocation {
  node: string;
  runs: RunInfo[];
  bytesIn: number;
  /** When it was located, on the plan's own clock (see `plannedAt`). */
  seq?: number;
}

/** What a reduce task's input says (the agent's ReducePlan). */
export interface ReducePlan {
  partition: number;
  sources: { node: string; address: string; runs: string[] }[];
}

/**
 * R when neither the job nor the submit sets it: two per core of the cluster
 * as it is at submit, so a slow reducer is a small share of the work (4 when
 * no agent is up yet).
 */
export function defaultPartitions(cores: number): number {
  return cores > 0 ? Math.min(1000, 2 * cores) : 4;
}

export class ShufflePlan {
  readonly #maps: (MapLocation | undefined)[];
  /**
   * Maps read back after a coordinator restart: done, their runs said to be
   * on a node that has not yet confirmed it still holds them (see
   * ./recovered-runs.ts). Neither located nor pending until it has, or until
   * the grace period ends.
   */
  readonly #unconfirmed = new Map<number, MapLocation>();
  #located = 0;
  readonly #addresses = new Map<string, string>();
  readonly #parts: (PartLocation | undefined)[];
  readonly #pending: number[];
  /**
   * A counter that ticks at every map or part located and every reduce
   * planned: a reducer's fetch failure is about the locations its plan
   * named, not about maps run again (perhaps on that very node) since.
   */
  #clock = 0;
  readonly #plannedAt: Uint32Array;
  readonly #partSeq: Uint32Array;
  /** Times each partition's reduce was lost (its node, or a fetch from a node): bounded like a map's. */
  readonly losses: Uint16Array;
  /** Each partition's reduce attempts so far. */
  readonly attempts: Uint16Array;
  partsDone = 0;
  /** Bytes of the parts reduced so far. */
  bytesOut = 0;

  constructor(
    mapCount: number,
    readonly partitions: number,
  ) {
    this.#maps = new Array(mapCount);
    this.#parts = new Array(partitions);
    this.#pending = Array.from({ length: partitions }, (_, p) => p);
    this.losses = new Uint16Array(partitions);
    this.attempts = new Uint16Array(partitions);
    this.#plannedAt = new Uint32Array(partitions);
    this.#partSeq = new Uint32Array(partitions);
  }

  /** When partition `p`'s latest reduce was planned: what a fetch failure of it can speak for (`forgetNode`'s `plannedBefore`). */
  plannedAt(p: number): number {
    return this.#plannedAt[p]!;
  }

  /** Where `node` is dialled (known from the dispatcher before it gets tasks). */
  nodeAt(node: string, address: string): void {
    this.#addresses.set(node, address);
  }

  /** Reduce tasks that could start now: none until every map's runs have a location. */
  get runnable(): number {
    return this.#located === this.#maps.length ? this.#pending.length : 0;
  }

  /** Partitions not yet started (a reduce phase with none is near its end). */
  get waiting(): number {
    return this.#pending.length;
  }

  get complete(): boolean {
    return this.partsDone === this.partitions;
  }

  /** A map task finished on `node`; `manifest` is its output. Throws on a manifest that does not parse (a faulty agent). */
  mapDone(index: number, node: string, manifest: Buffer, bytesIn = 0): void {
    const parsed = JSON.parse(manifest.toString('utf8')) as { runs?: RunInfo[] };
    if (!Array.isArray(parsed.runs)) throw new Error(`map task ${index} on ${node} reported no runs`);
    if (!this.#maps[index]) this.#located++;
    this.#maps[index] = { node, runs: parsed.runs, bytesIn, seq: ++this.#clock };
  }

  /** A map that finished before a coordinator restart, its runs said to be on `node`: trusted once that node confirms them. */
  recovered(index: number, node: string, manifest: Buffer, bytesIn: number): void {
    const parsed = JSON.parse(manifest.toString('utf8')) as { runs?: RunInfo[] };
    if (!Array.isArray(parsed.runs)) throw new Error(`map task ${index} on ${node} reported no runs`);
    this.#unconfirmed.set(index, { node, runs: parsed.runs, bytesIn });
  }

  /** Nodes that hold runs not yet confirmed, each with the job's maps there. */
  get unconfirmedNodes(): Set<string> {
    return new Set([...this.#unconfirmed.values()].map((m) => m.node));
  }

  /**
   * `node` (dialled at `address`) says which runs of the job it holds: the
   * maps whose runs are all there are located again; the others (returned)
   * must run again.
   */
  confirm(node: string, address: string, held: ReadonlySet<string>): { trusted: number[]; missing: number[] } {
    const trusted: number[] = [];
    const missing: number[] = [];
    for (const [index, m] of this.#unconfirmed) {
      if (m.node !== node) continue;
      this.#unconfirmed.delete(index);
      if (!m.runs.every((r) => held.has(r.id))) {
        missing.push(index);
        continue;
      }
      this.#addresses.set(node, address);
      if (!this.#maps[index]) this.#located++;
      this.#maps[index] = { ...m, seq: ++this.#clock };
      trusted.push(index);
    }
    return { trusted, missing };
  }

  /** Maps still unconfirmed on `node` (every node when none is named): given up on, they must run again. */
  unconfirmed(node?: string): number[] {
    const out: number[] = [];
    for (const [index, m] of this.#unconfirmed) {
      if (node !== undefined && m.node !== node) continue;
      this.#unconfirmed.delete(index);
      out.push(index);
    }
    return out;
  }

  /** The phases as watchers see them: maps whose runs are in place, parts reduced, and the bytes of each. */
  phases(): { mapsTotal: number; mapsDone: number; reducesTotal: number; reducesDone: number; bytesIn: number; bytesShuffled: number; bytesOut: number } {
    let bytesIn = 0;
    let bytesShuffled = 0;
    for (const m of this.#maps) {
      if (!m) continue;
      bytesIn += m.bytesIn;
      for (const r of m.runs) bytesShuffled += r.bytes;
    }
    return {
      mapsTotal: this.#maps.length,
      mapsDone: this.#located,
      reducesTotal: this.partitions,
      reducesDone: this.partsDone,
      bytesIn,
      bytesShuffled,
      bytesOut: this.bytesOut,
    };
  }

  /**
   * `node` is gone (or its runs cannot be fetched): the maps whose runs lived
   * there and are still needed, now without a location. The caller runs them
   * again. With `plannedBefore` (a fetch failed), only the maps located
   * before that reduce was planned: one run again since is not in question.
   */
  forgetNode(node: string, plannedBefore = Number.POSITIVE_INFINITY): number[] {
    if (this.complete) return [];
    const lost: number[] = [];
    for (let i = 0; i < this.#maps.length; i++) {
      const m = this.#maps[i];
      if (m?.node !== node || (m.seq ?? 0) > plannedBefore) continue;
      // Runs only for partitions already reduced are not needed again.
      if (m.runs.every((r) => this.#parts[r.p] !== undefined)) continue;
      this.#maps[i] = undefined;
      this.#located--;
      lost.push(i);
    }
    return lost;
  }

  /** The next partition to reduce and its plan, as the task's input. */
  takeReduce(): { partition: number; attempt: number; input: Buffer } | undefined {
    if (!this.runnable) return undefined;
    const partition = this.#pending.shift()!;
    return { partition, attempt: ++this.attempts[partition]!, input: this.planInput(partition) };
  }

  /** A reduce task's input: its plan as JSON. */
  planInput(partition: number): Buffer {
    this.#plannedAt[partition] = ++this.#clock;
    return Buffer.from(JSON.stringify(this.plan(partition)));
  }

  plan(partition: number): ReducePlan {
    const byNode = new Map<string, string[]>();
    for (const m of this.#maps) {
      if (!m) continue;
      for (const r of m.runs) {
        if (r.p !== partition) continue;
        let runs = byNode.get(m.node);
        if (!runs) byNode.set(m.node, (runs = []));
        runs.push(r.id);
      }
    }
    return { partition, sources: [...byNode].map(([node, runs]) => ({ node, address: this.#addresses.get(node) ?? '', runs })) };
  }

  /**
   * A partition's part is done on `node`; `note` is the reduce's output.
   * False for a duplicate (a backup or a re-run that also finished). Throws on
   * a note that does not parse (a faulty agent).
   */
  reduceDone(partition: number, node: string, note: Buffer): boolean {
    if (this.#parts[partition] !== undefined) return false;
    const parsed = JSON.parse(note.toString('utf8')) as Partial<PartLocation>;
    if (typeof parsed.part !== 'string' || typeof parsed.bytes !== 'number')
      throw new Error(`the reduce of partition ${partition} on ${node} reported no part`);
    this.#parts[partition] = { node, address: this.#addresses.get(node) ?? '', part: parsed.part, bytes: parsed.bytes, keys: parsed.keys ?? 0 };
    this.#partSeq[partition] = ++this.#clock;
    this.partsDone++;
    this.bytesOut += parsed.bytes;
    return true;
  }

  /**
   * Parts done on `node`, which is gone before the job completed (or whose
   * runs could not be fetched by a reduce planned at `plannedBefore`): they
   * are reduced again. Returns their partitions.
   */
  forgetParts(node: string, plannedBefore = Number.POSITIVE_INFINITY): number[] {
    if (this.complete) return [];
    const lost: number[] = [];
    for (let p = 0; p < this.partitions; p++) {
      const part = this.#parts[p];
      if (part?.node !== node || this.#partSeq[p]! > plannedBefore) continue;
      this.#parts[p] = undefined;
      this.partsDone--;
      this.bytesOut -= part.bytes;
      this.reduceBack(p);
      lost.push(p);
    }
    return lost;
  }

  /** Where partition `p`'s finished part is, if it is. */
  part(p: number): PartLocation | undefined {
    return this.#parts[p];
  }

  /** A reduce did not finish (its node is gone, or it could not fetch): it waits to run again. */
  reduceBack(partition: number): void {
    if (this.#parts[partition] === undefined && !this.#pending.includes(partition)) this.#pending.push(partition);
  }

  /** The job's result: where every part is, in partition order, as frames of JSON. */
  result(): Buffer {
    return packFrames((this.#parts as PartLocation[]).map((p) => Buffer.from(JSON.stringify(p))));
  }
}
