export { schedule } from './schedule.js';
export { canTakeWork, couldEverRun, fitsNow } from './feasibility.js';
export { byFreeShare, byJobOrder } from './rank.js';
export { headroom } from './throttle.js';
export type { Assignment, JobSnapshot, NodeHealth, NodeSnapshot, Plan, Snapshot } from './types.js';
export { reconcile } from './reconcile.js';
export type { LiveJob, Round } from './reconcile.js';
export { matchesConstraint } from './constraint.js';
export { fastestSpeed, slotCap, speedFactors, THROTTLED_SHARE, usableSlots, weight } from './weights.js';
