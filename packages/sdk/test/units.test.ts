import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize } from '../src/units.js';
import { formatAddress, parseAddress } from '../src/wire/options.js';

describe('units', () => {
  it('parses durations, a bare number being seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('10')).toBe(10_000);
  });

  it('parses sizes in MiB, a bare number being MiB', () => {
    expect(parseSize('512M')).toBe(512);
    expect(parseSize('2G')).toBe(2048);
    expect(parseSize('2GiB')).toBe(2048);
    expect(parseSize('1024K')).toBe(1);
    expect(parseSize('300')).toBe(300);
  });

  it('names the flag and the fix in its errors', () => {
    expect(() => parseDuration('soon', '--time-limit')).toThrow('--time-limit: "soon" is not a duration; use a number with ms, s, m, h or d, like 30s or 2m');
    expect(() => parseSize('12Q', '--mem-per-task')).toThrow('--mem-per-task: "12Q" is not a size; use a number with K, M, G or T, like 512M or 2G');
  });

  it('formats durations for people', () => {
    expect(formatDuration(1000)).toBe('1s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(95_000)).toBe('1m35s');
  });
});

describe('addresses', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseAddress('pi5-1.local:7700')).toEqual({ host: 'pi5-1.local', port: 7700 });
    expect(parseAddress('[::1]:7700')).toEqual({ host: '::1', port: 7700 });
    expect(parseAddress(':7700')).toEqual({ host: '127.0.0.1', port: 7700 });
    expect(formatAddress({ host: '::1', port: 1 })).toBe('[::1]:1');
  });

  it('refuses what is not host:port', () => {
    expect(() => parseAddress('pi5-1', '--coordinator')).toThrow('--coordinator: "pi5-1" is not host:port');
    expect(() => parseAddress('h:70000')).toThrow(/is not host:port/);
  });
});
