/** A short, one-line rendering of a task's input for error messages. */
import { inspect } from 'node:util';
import { chunkPlace, decodeChunkRef } from '@picompute/sdk/chunk-ref';
import { decode } from '@picompute/sdk/codec';

const MAX_PREVIEW = 200;

export function previewValue(value: unknown): string {
  const text = inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 60, compact: true });
  return text.length > MAX_PREVIEW ? `${text.slice(0, MAX_PREVIEW - 1)}…` : text;
}

export function previewBytes(bytes: Uint8Array): string {
  try {
    // An input chunk: where it comes from says more than its bytes would.
    const ref = decodeChunkRef(bytes);
    if (ref) return `${chunkPlace(ref)} (${ref.length} bytes)`;
    return previewValue(decode(bytes));
  } catch {
    return `<${bytes.length} bytes that do not decode>`;
  }
}
