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

export const THROTTLE_REASONS = [
  { name: 'under_voltage', bit: 0, label: 'under-voltage' },
  { name: 'frequency_capped', bit: 1, label: 'frequency capped' },
  { name: 'throttled', bit: 2, label: 'throttled' },
  { name: 'soft_temperature_limit', bit: 3, label: 'soft temperature limit' },
] as const;

/** Bits since boot sit 16 above the live ones. */
export const SINCE_BOOT_SHIFT = 16;

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

/** The reasons set in `bits`, live and since boot, for people to read. */
export function throttleReasons(bits: number): { live: string[]; sinceBoot: string[] } {
  if (bits < 0) return { live: [], sinceBoot: [] };
  return {
    live: THROTTLE_REASONS.filter((r) => bits & (1 << r.bit)).map((r) => r.label),
    sinceBoot: THROTTLE_REASONS.filter((r) => bits & (1 << (r.bit + SINCE_BOOT_SHIFT))).map((r) => r.label),
  };
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
