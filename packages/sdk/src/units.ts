/**
 * Durations (`500ms`, `30s`, `2m`, `1h`, `1d`, a bare number is seconds, as in
 * Slurm's --time in minutes-free form) and sizes (`512M`, `2G`, `1024K`; a bare
 * number is MiB, as in Slurm's --mem). Both throw errors that name what the caller says it parses (an option, or the CLI its flag).
 */
const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS_MB: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`${what}: "${text}" is not a duration; use a number with ms, s, m, h or d, like 30s or 2m`);
  return Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] ?? 's').toLowerCase()]!);
}

/** Returns MiB. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])?i?b?\s*$/i.exec(text);
  if (!m) throw new RangeError(`${what}: "${text}" is not a size; use a number with K, M, G or T, like 512M or 2G`);
  return Math.ceil(Number(m[1]) * SIZE_UNITS_MB[(m[2] ?? 'm').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  return s < 3600
    ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Bytes for people: `512 bytes`, `3.4 MiB`, `4 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${+(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${+(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
