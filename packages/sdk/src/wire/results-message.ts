/**
 * A `FromAgent { results { packed … } }` message's protobuf bytes, written
 * by hand into one buffer. protobufjs would take the packed results as a
 * finished buffer and copy it into its own: for a message of 60 MiB that is
 * 60 MiB more copied on the agent's main thread (after `packResults`' copy,
 * before grpc-js's frame), at the few hundred MB/s a fresh buffer copies at
 * on a small node. The codec sends an `Encoded` as it is (./load.ts).
 *
 *   FromAgent.results = 2 → Results.packed = 2 (repeated) → PackedResults { job_id = 1, results = 2 }
 *
 * Only for a gRPC call: the embedded cluster's in-process stream carries
 * message objects (./in-process.ts).
 */
import { Encoded } from './load.js';
import { packedResultsBytes, writePackedResults } from './packed-work.js';
import type { TaskResult } from './messages.js';

/** Tag of field 1 / field 2, wire type 2 (length-delimited). */
const FIELD_1 = 0x0a;
const FIELD_2 = 0x12;

export interface JobResults {
  jobId: string;
  results: readonly TaskResult[];
}

export function encodePackedResultsMessage(jobs: readonly JobResults[]): Encoded {
  const sizes = jobs.map(({ jobId, results }) => {
    const id = Buffer.byteLength(jobId);
    const data = packedResultsBytes(results);
    return { id, data, entry: fieldBytes(id) + fieldBytes(data) };
  });
  const resultsMessage = sizes.reduce((n, s) => n + fieldBytes(s.entry), 0);
  const out = Buffer.allocUnsafe(fieldBytes(resultsMessage));
  let at = writeHead(out, 0, FIELD_2, resultsMessage);
  jobs.forEach(({ jobId, results }, i) => {
    const s = sizes[i]!;
    at = writeHead(out, at, FIELD_2, s.entry);
    at = writeHead(out, at, FIELD_1, s.id);
    at += out.write(jobId, at, 'utf8');
    at = writeHead(out, at, FIELD_2, s.data);
    writePackedResults(results, out, at);
    at += s.data;
  });
  return new Encoded(out);
}

/** A length-delimited field of `length` bytes, with its tag and length. */
function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

function writeHead(out: Buffer, at: number, tag: number, length: number): number {
  out[at++] = tag;
  let n = length;
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}
