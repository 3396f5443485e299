export { startCoordinator } from './coordinator.js';
export type { Coordinator, CoordinatorOptions } from './coordinator.js';
export { Cluster, UserError } from './cluster.js';
export { BlobStore } from './blob-store.js';
export { StateError, defaultStateDir } from './state/database.js';
