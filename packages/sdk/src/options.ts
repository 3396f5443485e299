/**
 * Checks for the options objects of the library's entry points (startAgent,
 * startCoordinator, connect): each daemon compiles its options in one place,
 * and a bad value is refused with the option's own name. Flags are the
 * CLI's business: it checks them under their flag names before they get here.
 */
import { formatAddress, parseAddress } from './wire/options.js';

export class OptionError extends RangeError {
  override name = 'OptionError';
}

/** `value` if it is a whole number ≥ `min`, else an OptionError naming `owner.name`. */
export function wholeNumber(owner: string, name: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min) throw new OptionError(`${owner} option ${name} must be a whole number ≥ ${min}, not ${value}`);
  return value;
}

/** `host:port` normalized, or an OptionError naming the option. */
export function address(owner: string, name: string, value: string): string {
  try {
    return formatAddress(parseAddress(value));
  } catch (err) {
    throw new OptionError(`${owner} option ${name}: ${(err as Error).message.replace(/^address: /, '')}`);
  }
}
