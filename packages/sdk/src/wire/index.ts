export * from './messages.js';
export * from './options.js';
export { Encoded, wireEncoder, wireNormalizer, wireServices } from './load.js';
export { inProcessPair } from './in-process.js';
export type { ClientWorkStream, ServerWorkStream } from './in-process.js';
export { MISSING_BLOB_TRAILER, MissingBlobError, missingBlobOf, missingBlobStatus } from './missing-blob.js';
export { fromRunKey, RUN_KEY_ATTEMPTS, runKey } from './run-key.js';
export { packResults, packTasks, packableResult, packableTasks, unpackResults, unpackTasks } from './packed-work.js';
