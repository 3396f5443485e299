/**
 * Splits the results waiting to go back to the coordinator into messages
 * that each stay under the message limit. Without this, outputs finished in
 * the same tick went out as one message: past the limit gRPC ends the whole
 * Work stream, the coordinator takes the agent for dead, runs the tasks again
 * and, after three rounds, fails the job blaming the node, not the output.
 */
import type { TaskResult } from '@picompute/sdk/wire';
import { outputTooBigMessage } from './failure-message.js';

/** Room left in every message for the envelope and field tags, so an estimate a little short never crosses the limit. */
export const MESSAGE_MARGIN_BYTES = 1024 * 1024;

/** Bytes a result takes on the wire, from above (protobuf adds a few bytes per field). */
export function resultBytes(r: TaskResult): number {
  let n = 64 + r.jobId.length + r.output.length;
  for (const line of r.logs) n += Buffer.byteLength(line) + 8;
  if (r.error) n += Buffer.byteLength(r.error.message) + Buffer.byteLength(r.error.stack) + Buffer.byteLength(r.error.inputPreview) + 16;
  return n;
}

/**
 * Groups `results` in order into messages of at most `budget` bytes each.
 * A result too big for any message on its own becomes that task's failure,
 * naming its size and the limit, so the other tasks and the agent carry on.
 */
export function packResults(results: TaskResult[], budget: number): TaskResult[][] {
  const messages: TaskResult[][] = [];
  let current: TaskResult[] = [];
  let bytes = 0;
  for (let r of results) {
    let size = resultBytes(r);
    if (size > budget) {
      r = tooBig(r, size, budget);
      size = resultBytes(r);
    }
    if (current.length && bytes + size > budget) {
      messages.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length) messages.push(current);
  return messages;
}

function tooBig(r: TaskResult, size: number, budget: number): TaskResult {
  return {
    ...r,
    ok: false,
    output: Buffer.alloc(0),
    // Logs may be what made it big; the first lines usually say enough.
    logs: r.logs.slice(0, 20).map((line) => (line.length > 1000 ? `${line.slice(0, 1000)}…` : line)),
    error: {
      kind: 'THREW',
      message: outputTooBigMessage(size, budget, r.output.length * 2 >= size ? 'its output is' : 'its output with its log lines is'),
      stack: '',
      inputPreview: r.error?.inputPreview ?? '',
      fetchNode: '',
    },
  };
}
