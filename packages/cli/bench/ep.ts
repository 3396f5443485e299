/**
 * The NAS Parallel Benchmarks EP kernel ("embarrassingly parallel") as a
 * picompute job: Gaussian pairs by the Marsaglia polar method from NPB's
 * linear congruential generator (a = 5^13, modulus 2^46, seed 271828183),
 * 2^M pairs in batches of 2^16, each task a range of batches. Verified
 * against NPB's published sums for the class.
 */
import { defineJob } from '@picompute/sdk';
import { EP_CLASSES } from '../src/npb.ts';

const MK = 16;
const NK = 1 << MK;
const A = 1220703125;
const SEED = 271828183;
const R23 = 2 ** -23;
const R46 = R23 * R23;
const T23 = 2 ** 23;
const T46 = T23 * T23;

export const CLASSES: Record<string, { m: number; sx: number; sy: number }> = EP_CLASSES;

/** NPB's randlc: x ← a·x mod 2^46 in exact double arithmetic; returns x·2^-46. */
function randlc(state: { x: number }, a: number): number {
  let t1 = R23 * a;
  const a1 = Math.floor(t1);
  const a2 = a - T23 * a1;
  t1 = R23 * state.x;
  const x1 = Math.floor(t1);
  const x2 = state.x - T23 * x1;
  t1 = a1 * x2 + a2 * x1;
  const t2 = Math.floor(R23 * t1);
  const z = t1 - T23 * t2;
  const t3 = T23 * z + a2 * x2;
  const t4 = Math.floor(R46 * t3);
  state.x = t3 - T46 * t4;
  return R46 * state.x;
}

export interface EpPart {
  sx: number;
  sy: number;
  q: number[];
  ms: number;
}

/** Batches [from, to) of class M; the seed of batch k is SEED·a^(2·NK·k). */
export function epBatches({ from, to }: { from: number; to: number }): EpPart {
  const started = performance.now();
  const an = { x: A };
  for (let i = 0; i < MK + 1; i++) randlc(an, an.x);
  const x = new Float64Array(2 * NK);
  const q = new Array<number>(10).fill(0);
  let sx = 0;
  let sy = 0;
  for (let k = from; k < to; k++) {
    const t1 = { x: SEED };
    const t2 = { x: an.x };
    let kk = k;
    for (let i = 1; i <= 100; i++) {
      const ik = Math.floor(kk / 2);
      if (2 * ik !== kk) randlc(t1, t2.x);
      if (ik === 0) break;
      randlc(t2, t2.x);
      kk = ik;
    }
    for (let i = 0; i < 2 * NK; i++) x[i] = randlc(t1, A);
    for (let i = 0; i < NK; i++) {
      const x1 = 2 * x[2 * i]! - 1;
      const x2 = 2 * x[2 * i + 1]! - 1;
      const t = x1 * x1 + x2 * x2;
      if (t <= 1) {
        const f = Math.sqrt((-2 * Math.log(t)) / t);
        const g1 = x1 * f;
        const g2 = x2 * f;
        q[Math.floor(Math.max(Math.abs(g1), Math.abs(g2)))]!++;
        sx += g1;
        sy += g2;
      }
    }
  }
  return { sx, sy, q, ms: performance.now() - started };
}

export default defineJob({
  name: 'npb-ep',
  inputs: (args) => {
    const cls = CLASSES[args.class ?? 'S'];
    if (!cls) throw new Error(`unknown EP class ${args.class}; choose S, W or A`);
    const batches = 2 ** (cls.m - MK);
    const tasks = Math.min(batches, Number(args.tasks ?? 64));
    return Array.from({ length: tasks }, (_, i) => ({ from: Math.floor((i * batches) / tasks), to: Math.floor(((i + 1) * batches) / tasks) }));
  },
  map: (range: { from: number; to: number }, ctx) => {
    const part = epBatches(range);
    ctx.log(JSON.stringify({ batches: range.to - range.from, ms: part.ms }));
    return part;
  },
  reduce: (acc: EpPart, p: EpPart) => ({ sx: acc.sx + p.sx, sy: acc.sy + p.sy, q: acc.q.map((v, i) => v + p.q[i]!), ms: acc.ms + p.ms }),
  initial: { sx: 0, sy: 0, q: new Array<number>(10).fill(0), ms: 0 },
});
