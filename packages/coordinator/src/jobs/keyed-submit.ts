/**
 * What the coordinator settles for a keyed job at submit: its partition
 * count R when neither the job nor the submit gave one (two per core of the
 * cluster as it is now, at least 1), fixed for the job's life.
 */
import type { SubmitRequest } from '@picompute/sdk/wire';
import { defaultPartitions } from './shuffle-plan.js';

export function keyedDefaults(request: SubmitRequest, nodes: readonly { cores: number }[]): SubmitRequest {
  if (!request.keyed || request.partitions) return request;
  return { ...request, partitions: defaultPartitions(nodes.reduce((n, node) => n + node.cores, 0)) };
}
