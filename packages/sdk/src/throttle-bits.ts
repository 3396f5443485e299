/**
 * The Raspberry Pi firmware's get_throttled bits, read by agents and
 * explained by the coordinator: under-voltage, ARM frequency capped,
 * throttled, soft temperature limit, each live (bits 0–3) and since boot
 * (bits 16–19). One table, so `nodes`, the metrics and the scheduler agree.
 */

export const THROTTLE_REASONS = [
  { name: 'under_voltage', bit: 0, label: 'under-voltage' },
  { name: 'frequency_capped', bit: 1, label: 'frequency capped' },
  { name: 'throttled', bit: 2, label: 'throttled' },
  { name: 'soft_temperature_limit', bit: 3, label: 'soft temperature limit' },
] as const;

/** Bits since boot sit 16 above the live ones. */
export const SINCE_BOOT_SHIFT = 16;

/** The reasons set in `bits`, live and since boot, for people to read; none for -1 (a node without the firmware). */
export function throttleReasons(bits: number): { live: string[]; sinceBoot: string[] } {
  if (bits < 0) return { live: [], sinceBoot: [] };
  return {
    live: THROTTLE_REASONS.filter((r) => bits & (1 << r.bit)).map((r) => r.label),
    sinceBoot: THROTTLE_REASONS.filter((r) => bits & (1 << (r.bit + SINCE_BOOT_SHIFT))).map((r) => r.label),
  };
}
