/**
 * The Raspberry Pi firmware's throttle state: under-voltage, ARM frequency
 * capped, throttled, soft temperature limit, each live (bits 0–3) and since
 * boot (bits 16–19). Read from the firmware's sysfs file where the kernel
 * has it, else from `vcgencmd get_throttled`; -1 on any other machine.
 * Tests point `path` at a fixture file and go through the same parsing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export const DEFAULT_THROTTLE_PATH = '/sys/devices/platform/soc/soc:firmware/get_throttled';

export { SINCE_BOOT_SHIFT, THROTTLE_REASONS, throttleReasons } from '@picompute/sdk/throttle-bits';

/** `0x50005`, `throttled=0x50005` (vcgencmd) or `50005` (sysfs prints hex without 0x): the bits, or -1 if unreadable. */
export function parseThrottled(text: string): number {
  const m = /([0-9a-f]+)\s*$/i.exec(
    text
      .trim()
      .replace(/^throttled=/, '')
      .replace(/^0x/i, ''),
  );
  return m ? parseInt(m[1]!, 16) : -1;
}

/**
 * Reads the bits each call; once neither the file nor vcgencmd answered, it
 * stops trying (a heartbeat a second must not spawn a failing process).
 */
export class ThrottleReader {
  #absent = false;

  constructor(private readonly path = DEFAULT_THROTTLE_PATH) {}

  async read(): Promise<number> {
    if (this.#absent) return -1;
    const fromFile = await readFile(this.path, 'utf8').then(parseThrottled, () => undefined);
    if (fromFile !== undefined && fromFile >= 0) return fromFile;
    // A fixture path given by a test or the user is the only source: no fallback to the machine's own vcgencmd.
    const fromTool = this.path === DEFAULT_THROTTLE_PATH ? await vcgencmd() : -1;
    if (fromTool < 0) this.#absent = true;
    return fromTool;
  }
}

function vcgencmd(): Promise<number> {
  return new Promise((resolve) => {
    execFile('vcgencmd', ['get_throttled'], { timeout: 2000 }, (err, stdout) => resolve(err ? -1 : parseThrottled(stdout)));
  });
}
