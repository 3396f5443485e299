/**
 * Monte Carlo π (workload W2): 64 tasks × 2,000,000 points, each task drawing
 * from its own xorshift32 stream seeded with its index + 1, so the estimate is
 * the same on one core or fifty.
 *
 *   picompute submit examples/monte-carlo-pi.ts [--arg tasks=64] [--arg points=2000000]
 */
import { defineJob } from '@picompute/sdk';

interface Slice {
  seed: number;
  points: number;
}

/** Points of the unit square that fall inside the quarter circle. */
export function countHits({ seed, points }: Slice): number {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  let hits = 0;
  for (let i = 0; i < points; i++) {
    const a = next();
    const b = next();
    if (a * a + b * b <= 1) hits++;
  }
  return hits;
}

const count = (args: Record<string, string>, key: string, fallback: number) => Number(args[key] ?? fallback);

export default defineJob({
  name: 'monte-carlo-pi',
  inputs: (args) => Array.from({ length: count(args, 'tasks', 64) }, (_, i) => ({ seed: i + 1, points: count(args, 'points', 2_000_000) })),
  map: (slice: Slice) => countHits(slice),
  reduce: (acc: number, hits: number) => acc + hits,
  initial: 0,
  finalize: (hits, args) => (4 * hits) / (count(args, 'tasks', 64) * count(args, 'points', 2_000_000)),
});
