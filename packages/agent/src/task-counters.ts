/**
 * The hook through which this agent's finished tasks reach its metrics: unset
 * (one property check per task) unless metrics are asked for, so prom-client
 * is never loaded by an agent nobody scrapes. Set by ./metrics.ts.
 */
export interface TaskObserver {
  /** `outcome`: "ok" or the error kind in lower case (a bounded set of label values). */
  task(outcome: string, durationMs: number, outputBytes: number): void;
}

export const taskHook: { observer?: TaskObserver } = {};
