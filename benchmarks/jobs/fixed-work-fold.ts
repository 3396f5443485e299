/**
 * Maps of equal CPU work (`work` xorshift steps each), so a core held back by a CPU quota takes longer over the same
 * task; the answer is the sum of i² over the `n` inputs (the work leaves no trace in it, so it is checked for free).
 */
import { defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'fixed-work-fold',
  inputs: (args) => Array.from({ length: Number(args.n ?? 6) }, (_, i) => i),
  map: (i: number, ctx) => {
    let x = i + 1;
    for (let k = Number(ctx.args.work ?? 1_000_000); k > 0; k--) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    // xorshift32 never reaches 0 from a non-zero seed: the term is 0, and the loop cannot be left out.
    return i * i + (x === 0 ? 1 : 0);
  },
  reduce: (acc: number, v: number) => acc + v,
  initial: 0,
});
