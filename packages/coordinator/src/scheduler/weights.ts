/**
 * How much of its window the scheduler fills on each node, from what the
 * node reports of itself: its measured speed per core and its throttling.
 *
 * A node runs a task on every core whatever its speed (an idle core of a
 * slow node is still lost work), but its queued slots (the second half of
 * the window, there so a core never waits on a round trip) shrink with its
 * speed relative to the fastest node: a slow node holds fewer tasks that a
 * fast node would finish sooner, and the last tasks of a job do not sit
 * behind its slow cores. A throttling node (hot, or under-voltage) runs on
 * a quarter of its cores, at least one, with nothing queued, until it
 * recovers: its new tasks come at a reduced rate, and it gets the chance to
 * cool (or its power supply to keep up).
 *
 * The same weight orders nodes (./rank.ts): with slots free on both, the
 * fast node takes the next batch first. And near a job's end a slower node
 * starts no more of its tasks once the faster nodes would finish all that
 * is left before it finished one (worthStarting): its task would be the last
 * to end, and the job's wall time with it.
 */
import type { NodeSnapshot } from './types.js';

/** The share of its cores a throttling node runs tasks on. */
export const THROTTLED_SHARE = 0.25;
/** A node measured slower than this share of the fastest counts as this slow: a bad probe must not starve a node altogether. */
const MIN_RELATIVE_SPEED = 0.05;
/**
 * Nodes within this share of the fastest count as fast as it: probes of
 * equal boards differ by up to ~20 % (the agent's speed-probe.ts), and
 * that must not cost a node its queue. A Pi 4 core is about 0.4 of a Pi 5's.
 */
const SAME_SPEED = 0.75;

/** The fastest measured speed among the nodes (0: none measured). */
export function fastestSpeed(nodes: readonly Pick<NodeSnapshot, 'speed'>[]): number {
  let fastest = 0;
  for (const n of nodes) if ((n.speed ?? 0) > fastest) fastest = n.speed!;
  return fastest;
}

/** Speed relative to the fastest node, in (0, 1]; a node not measured yet, or within SAME_SPEED of the fastest, counts as the fastest. */
export function relativeSpeed(node: Pick<NodeSnapshot, 'speed'>, fastest: number): number {
  if (!node.speed || !fastest) return 1;
  const r = node.speed / fastest;
  return r >= SAME_SPEED ? 1 : Math.max(MIN_RELATIVE_SPEED, r);
}

/** The node's weight in placement: its relative speed, cut to THROTTLED_SHARE while it throttles. */
export function weight(node: Pick<NodeSnapshot, 'speed' | 'throttled'>, fastest: number): number {
  return relativeSpeed(node, fastest) * (node.throttled ? THROTTLED_SHARE : 1);
}

/** Core-slots the node may hold at once: every core plus a queue scaled by speed; a throttling node a quarter of its cores, at least 1. */
export function slotCap(node: Pick<NodeSnapshot, 'cores' | 'speed' | 'throttled'>, fastest: number): number {
  if (node.throttled) return Math.max(1, Math.round(node.cores * THROTTLED_SHARE));
  return node.cores + Math.round(node.cores * relativeSpeed(node, fastest));
}

/** Core-slots free for new batches now: the cap less what the node holds, never more than its window has free. */
export function usableSlots(node: NodeSnapshot, fastest: number): number {
  const window = node.window ?? 2 * node.cores;
  const held = window - node.freeSlots;
  return Math.max(0, Math.min(node.freeSlots, slotCap(node, fastest) - held));
}

/** A node's share of a job's capacity: its cores in fastest-core units. */
export function capacityOf(node: Pick<NodeSnapshot, 'cores' | 'speed' | 'throttled'>, fastest: number): number {
  return node.cores * weight(node, fastest);
}

/**
 * Whether one more of the job's tasks should start on this node: always on
 * a node at full weight, or at the best weight among the nodes that could
 * run the job (`best`: when the fastest node throttles, the others must not
 * all wait for it, and the job with them); on a slower one only while the
 * job's tasks not placed yet (`left`) would keep the other nodes busy at
 * least until this one finished it, counting the tasks it holds already that
 * the new one would wait behind. `capacity` is the summed capacityOf of the
 * nodes that could run the job; all figures are in fastest-core task times.
 */
export function worthStarting(node: { cores: number; weight: number; held: number }, left: number, capacity: number, best = 1): boolean {
  if (node.weight >= Math.min(1, best) || !Number.isFinite(capacity)) return true;
  const others = capacity - node.cores * node.weight;
  if (others <= 0) return true;
  const waits = Math.max(0, node.held + 1 - node.cores) / node.cores;
  return left / others >= (1 + waits) / node.weight;
}

/** Each node's speed as a multiple of the slowest measured node's (1 = that node), for `nodes`; 0 for a node not measured yet. */
export function speedFactors(speeds: readonly number[]): number[] {
  const measured = speeds.filter((s) => s > 0);
  const slowest = measured.length ? Math.min(...measured) : 0;
  return speeds.map((s) => (s > 0 && slowest > 0 ? s / slowest : 0));
}
