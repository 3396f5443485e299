import { describe, expect, it } from 'vitest';
import { agentTxt, dialAddress } from '../src/mdns/records.js';

const info = {
  id: 'raspberrypi-a1b2c3',
  hostname: 'raspberrypi',
  cores: 4,
  memoryMb: 3794,
  arch: 'arm64',
  nodeVersion: 'v20.20.2',
  version: '0.1.0',
  labels: ['pi4', 'fast'],
};

describe('mDNS records', () => {
  it('carries id, cores, memory, arch, versions and labels in TXT', () => {
    expect(agentTxt(info)).toEqual({ id: 'raspberrypi-a1b2c3', cores: '4', mem: '3794', arch: 'arm64', node: 'v20.20.2', v: '0.1.0', labels: 'pi4,fast' });
    expect(agentTxt(info, '192.168.1.20:7701').addr).toBe('192.168.1.20:7701');
  });

  it('refuses a TXT string over 255 bytes instead of corrupting the packet', () => {
    const labels = Array.from({ length: 40 }, (_, i) => `label-number-${i}`);
    expect(() => agentTxt({ ...info, labels })).toThrow(
      /mDNS record "labels" would be \d+ bytes, over the 255-byte limit of a TXT string; use fewer or shorter `labels` values/,
    );
  });

  it('dials the advertised address first, then where the answer came from, then a routable IPv4', () => {
    const seen = { name: 'a', port: 7701, addresses: ['fe80::1', '172.17.0.1', '10.0.0.5'], referer: { address: '10.0.0.5', family: 'IPv4' } };
    expect(dialAddress({ ...seen, txt: { addr: 'pi.example:9000' } })).toBe('pi.example:9000');
    expect(dialAddress(seen)).toBe('10.0.0.5:7701');
    expect(dialAddress({ ...seen, referer: { address: 'fe80::1', family: 'IPv6' } })).toBe('10.0.0.5:7701');
    expect(dialAddress({ name: 'b', port: 1, addresses: ['fe80::2', '2001:db8::5'] })).toBe('[2001:db8::5]:1');
    expect(dialAddress({ name: 'c', port: 1, addresses: ['fe80::2'] })).toBeUndefined();
  });
});
