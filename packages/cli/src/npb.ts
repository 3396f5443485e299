/**
 * NAS Parallel Benchmarks EP: the classes picompute runs, with NPB's published
 * verification sums (npb/EP/ep.f) and tolerance. Shared by the EP job
 * (bench/ep.ts, bundled at run time) and `picompute bench`.
 */
export const EP_CLASSES = {
  S: { m: 24, sx: -3.24783465203474e3, sy: -6.958407078382297e3 },
  W: { m: 25, sx: -2.863319731645753e3, sy: -6.320053679109499e3 },
  A: { m: 28, sx: -4.295875165629892e3, sy: -1.580732573678431e4 },
} as const;

export type EpClass = keyof typeof EP_CLASSES;
export const EP_EPSILON = 1e-8;
