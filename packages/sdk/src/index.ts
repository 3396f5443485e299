/**
 * `@picompute/sdk`: the job API. This entry is what job files import and what
 * gets bundled into them, so it re-exports only `./job.js` and `chunkText`. The client lives
 * at `@picompute/sdk/client`, bundling at `@picompute/sdk/bundle`.
 */
export { defineJob, isJob, isFoldJob, isKeyedJob, jobProblem, JOB_BRAND } from './job.js';
export { chunkText } from './chunk-text.js';
export type { Job, JobArgs, JobDefinition, CollectJob, FoldJob, KeyedJob, Key, FileChunk, EmitContext, ReduceContext, TaskContext } from './job.js';
