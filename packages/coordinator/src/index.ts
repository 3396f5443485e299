export { startCoordinator } from './coordinator.js';
export type { Coordinator } from './coordinator.js';
export type { CoordinatorOptions } from './coordinator-options.js';
export { Cluster, UserError } from './cluster.js';
export { BlobStore } from './blob-store.js';
export { StateError, defaultStateDir } from './state/database.js';
