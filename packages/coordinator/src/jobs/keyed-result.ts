/**
 * A keyed job's result as the state database keeps it (one blob, a frame per
 * partition: where its part is, JSON — the part itself stays on the disk of
 * the agent that reduced it, see ../part-proxy.ts; coordinators before that
 * kept the encoded [key, value] pairs themselves) and as clients get it (one
 * value per partition, `keyed` set).
 */
import { unpackFrames } from '@picompute/sdk/framing';
import type { JobRow } from '../state/store.js';

export function keyedResult(blob: Buffer): { reduced: false; keyed: true; values: Buffer[] } {
  return { reduced: false, keyed: true, values: unpackFrames(blob) };
}

export function isKeyedRow(row: JobRow | undefined): boolean {
  return !!row && (JSON.parse(row.request) as { keyed?: boolean }).keyed === true;
}
