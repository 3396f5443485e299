import { describe, expect, it } from 'vitest';
import { parseTimeLimit } from '../src/time-limit.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('--time-limit in Slurm’s forms (sbatch -t)', () => {
  it('reads MM as minutes', () => expect(parseTimeLimit('90')).toBe(90 * M));
  it('reads MM:SS', () => expect(parseTimeLimit('5:30')).toBe(5 * M + 30 * S));
  it('reads HH:MM:SS', () => expect(parseTimeLimit('1:00:00')).toBe(H));
  it('reads D-HH', () => expect(parseTimeLimit('2-03')).toBe(2 * D + 3 * H));
  it('reads D-HH:MM', () => expect(parseTimeLimit('1-02:30')).toBe(D + 2 * H + 30 * M));
  it('reads D-HH:MM:SS', () => expect(parseTimeLimit('2-00:00:00')).toBe(2 * D));
  it('keeps picompute’s unit forms', () => {
    expect(parseTimeLimit('30s')).toBe(30 * S);
    expect(parseTimeLimit('5m')).toBe(5 * M);
    expect(parseTimeLimit('500ms')).toBe(500);
    expect(parseTimeLimit('1.5h')).toBe(1.5 * H);
    expect(parseTimeLimit('1d')).toBe(D);
  });
  it('refuses what is neither, naming what it was given as (the CLI: its flag) and the forms', () => {
    for (const bad of ['soon', '1:75', '1:2:3:4', '-5', '1-', '5x', '', '1.5']) {
      expect(() => parseTimeLimit(bad, '--time-limit'), bad).toThrow(
        new RegExp(
          /^--time-limit: ".*" is not a duration; use a number with ms, s, m, h or d, like 30s or 5m, /.source +
            /or Slurm's MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS/.source,
        ),
      );
      expect(() => parseTimeLimit(bad), bad).toThrow(/^timeLimit: /);
    }
  });
});
