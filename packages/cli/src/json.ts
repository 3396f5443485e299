/**
 * Job results hold values JSON cannot (BigInt, Map, Set, typed arrays): this
 * is the one mapping `--json` uses. BigInt becomes a decimal string, Map an
 * object (string keys) or an array of [key, value] pairs, Set and typed arrays
 * arrays, Date an ISO string.
 */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [toJsonValue(k), toJsonValue(v)] as const);
    return entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) : entries;
  }
  if (value instanceof Set) return [...value].map(toJsonValue);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, toJsonValue);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  return value;
}
