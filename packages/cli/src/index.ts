export { startLocalCluster } from './local-cluster.js';
export type { LocalCluster } from './local-cluster.js';
