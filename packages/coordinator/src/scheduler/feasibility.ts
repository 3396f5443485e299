/** Which nodes may take a batch at all. */
import type { NodeSnapshot } from './types.js';

export function canTakeWork(node: NodeSnapshot): boolean {
  return node.health === 'up' && node.freeSlots > 0 && node.cores > 0;
}
