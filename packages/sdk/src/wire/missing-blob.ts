/**
 * A call refused because a blob it names (a job bundle) is not on the
 * coordinator: status FAILED_PRECONDITION, and the blob's hash in the
 * `picompute-missing-blob` trailer, which the client reads to upload it and
 * try again. The message is for people only; nothing matches its text.
 */
import * as grpc from '@grpc/grpc-js';

export const MISSING_BLOB_TRAILER = 'picompute-missing-blob';

export class MissingBlobError extends Error {
  override name = 'MissingBlobError';
  constructor(
    readonly hash: string,
    message: string,
  ) {
    super(message);
  }
}

/** The status a server sends for it. */
export function missingBlobStatus(err: MissingBlobError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(MISSING_BLOB_TRAILER, err.hash);
  return { code: grpc.status.FAILED_PRECONDITION, details: err.message, metadata };
}

/** The hash of the blob a refused call lacked, if that is why it was refused. */
export function missingBlobOf(err: Partial<grpc.ServiceError>): string | undefined {
  if (err.code !== grpc.status.FAILED_PRECONDITION || !err.metadata) return undefined;
  const value = err.metadata.get(MISSING_BLOB_TRAILER)[0];
  return value === undefined ? undefined : String(value);
}
