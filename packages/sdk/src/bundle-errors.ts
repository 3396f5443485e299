/** A job file that cannot become a job (its own module, so helpers of ./bundle.ts can throw it without an import cycle). */
export class JobFileError extends Error {
  override name = 'JobFileError';
}
