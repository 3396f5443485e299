/**
 * Caps on what `inputs(args)` may produce at submit time. Inputs are gathered
 * in the submitting process before anything is sent, so a generator that never
 * ends (or yields far more than meant) would otherwise grow the client until
 * the OS kills it, with no word on why. Crossing a cap stops the submit with
 * a message naming the cap and the flag that raises it.
 */
import { JobFileError } from './bundle.js';
import { formatBytes } from './units.js';

/** Default for `--max-inputs`: far beyond a cluster of Pis' day's work, far below what exhausts a client. */
export const DEFAULT_MAX_INPUTS = 10_000_000;
/** Default for `--max-input-bytes` (encoded inputs, summed): 4 GiB. */
export const DEFAULT_MAX_INPUT_BYTES = 4 * 1024 ** 3;

export class InputCaps {
  #count = 0;
  #bytes = 0;

  constructor(
    private readonly file: string,
    readonly maxInputs = DEFAULT_MAX_INPUTS,
    readonly maxBytes = DEFAULT_MAX_INPUT_BYTES,
  ) {}

  /** Counts one encoded input; throws JobFileError when it crosses a cap. */
  add(encodedBytes: number): void {
    if (++this.#count > this.maxInputs) {
      throw new JobFileError(
        `${this.file}: inputs(args) yielded more than ${this.maxInputs.toLocaleString('en-US')} inputs, the cap on inputs per job; ` +
          'if that many are meant, raise it with `maxInputs`, else check that inputs(args) ends',
      );
    }
    this.#bytes += encodedBytes;
    if (this.#bytes > this.maxBytes) {
      throw new JobFileError(
        `${this.file}: inputs(args) yielded more than ${formatBytes(this.maxBytes)} of encoded inputs (${this.#count.toLocaleString('en-US')} inputs ` +
          `so far), the cap on a job's input size; ` +
          'if that much is meant, raise it with `maxInputBytes`, else send smaller inputs (file names or ranges) and let the tasks read the data',
      );
    }
  }
}
