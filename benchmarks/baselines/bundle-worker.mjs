// Plain piscina baseline: calls one named export of a job bundle, so the
// baseline runs the very code picompute runs.
import { workerData } from 'node:worker_threads';

const fn = (await import(workerData.bundleUrl))[workerData.exportName];
export default (input) => fn(input);
