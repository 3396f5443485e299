/**
 * What a node's heartbeat says about how hard it may be driven: throttling
 * or under-voltage reported by the Pi firmware now (live bits; the
 * since-boot ones are history), in words for `nodes` and as the flag the
 * scheduler weighs (./scheduler/weights.ts).
 */
import { THROTTLE_REASONS, throttleReasons } from '@picompute/sdk/throttle-bits';
import type { Heartbeat } from '@picompute/sdk/wire';

/** `throttled: soft temperature limit` while the node reports one, else ''. */
export function slowedReason(heartbeat: Pick<Heartbeat, 'throttled'> | undefined | null): string {
  const live = throttleReasons(heartbeat?.throttled ?? -1).live;
  return live.length ? `throttled: ${live.join(', ')}` : '';
}

/** Whether `slowedReason` would say anything, without making its words: asked for every node in every round. */
export function slowedNow(heartbeat: Pick<Heartbeat, 'throttled'> | undefined | null): boolean {
  const bits = heartbeat?.throttled ?? -1;
  return bits > 0 && THROTTLE_REASONS.some((r) => bits & (1 << r.bit));
}
