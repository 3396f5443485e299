/**
 * Map outputs on a job's event stream, for watchers that asked for them
 * (`submit --stream`, the SDK's `job.outputs()`): the outputs finished
 * since the last event ride on the next one, split so no event passes
 * about 1 MiB of outputs (a message must stay under the gRPC limit).
 */
import { FINAL_STATES } from '@picompute/sdk/wire';
import type { JobEvent, TaskOutput } from '@picompute/sdk/wire';

const OUTPUT_BYTES_PER_EVENT = 1024 * 1024;

/**
 * `ev` with `outputs` spread over as many events as their size needs. Only
 * the last carries a final state (a stream ends at the first final event);
 * the ones before it say RUNNING, which the job was while they finished.
 */
export function withOutputs(ev: JobEvent, outputs: readonly TaskOutput[]): JobEvent[] {
  if (!outputs.length) return [ev];
  const events: JobEvent[] = [];
  let from = 0;
  let size = 0;
  for (let i = 0; i < outputs.length; i++) {
    size += outputs[i]!.value.length;
    if (size >= OUTPUT_BYTES_PER_EVENT && i + 1 < outputs.length) {
      events.push({ ...ev, state: FINAL_STATES.has(ev.state) ? 'RUNNING' : ev.state, logs: [], result: null, outputs: outputs.slice(from, i + 1) });
      from = i + 1;
      size = 0;
    }
  }
  events.push({ ...ev, outputs: outputs.slice(from) });
  return events;
}
