// Plain piscina baseline for W2: the very countHits of examples/monte-carlo-pi.ts, from its bundle.
import { workerData } from 'node:worker_threads';

const { countHits } = await import(workerData.bundleUrl);
export default (slice) => countHits(slice);
