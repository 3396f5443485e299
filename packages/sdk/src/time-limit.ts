/**
 * `--time-limit` as a Slurm user writes it (`sbatch -t`): `MM`, `MM:SS`,
 * `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`, where a bare number is
 * minutes, as Slurm reads it; and picompute's own `500ms`, `30s`, `5m`,
 * `1h`, `1d`. A bare number means minutes here (not seconds as in
 * parseDuration) because a Slurm user's `-t 90` must not become 90 s.
 */
import { parseDuration } from './units.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const HELP = "use a number with ms, s, m, h or d, like 30s or 5m, or Slurm's MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, like 90 (minutes) or 1:00:00";

export function parseTimeLimit(text: string, what = 'timeLimit'): number {
  const t = text.trim();
  const bad = () => new RangeError(`${what}: "${text}" is not a duration; ${HELP}`);
  if (/[a-z]$/i.test(t)) {
    try {
      return parseDuration(t, what);
    } catch {
      throw bad();
    }
  }
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!m) throw bad();
  const [, days, a, b, c] = m;
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  // After a colon, minutes and seconds stop at 59 (a typo like 1:75 is refused); the leading field may be any size.
  if ([b, c].some((later) => later !== undefined && Number(later) > 59)) throw bad();
  if (days !== undefined) return n(days) * DAY + n(a) * HOUR + n(b) * MINUTE + n(c) * 1000; // D-HH[:MM[:SS]]
  if (c !== undefined) return n(a) * HOUR + n(b) * MINUTE + n(c) * 1000; // HH:MM:SS
  if (b !== undefined) return n(a) * MINUTE + n(b) * 1000; // MM:SS
  return n(a) * MINUTE; // MM
}
