import { describe, expect, it } from 'vitest';
import { announcedRole, coordinatorTxt, pickCoordinators } from '../src/mdns/records.js';
import type { Sighting } from '../src/mdns/records.js';

const seen = (ip: string, role?: string): Sighting => ({
  name: `coord-${ip}`,
  port: 7700,
  referer: { address: ip, family: 'IPv4' },
  txt: role ? { id: `coord-${ip}`, v: '0.1.0', role } : { id: `coord-${ip}`, v: '0.1.0' },
});

describe('choosing a coordinator found by mDNS', () => {
  it('announces the role in TXT, and the address asked for', () => {
    expect(coordinatorTxt({ id: 'coord-1', version: '0.1.0' }, 'standby')).toEqual({ id: 'coord-1', v: '0.1.0', role: 'standby' });
    expect(coordinatorTxt({ id: 'coord-1', version: '0.1.0', advertiseAddress: 'pi1:7700' }, 'leader').addr).toBe('pi1:7700');
  });

  it('takes a coordinator that announces no role (an earlier version, which announced only while leading) as the leader', () => {
    expect(announcedRole(seen('10.0.0.1'))).toBe('leader');
    expect(pickCoordinators([seen('10.0.0.1')], false)).toBe('10.0.0.1:7700');
  });

  it('does not settle for a standby seen first: keeps looking while time is left', () => {
    expect(pickCoordinators([seen('10.0.0.2', 'standby')], false)).toBeUndefined();
    expect(pickCoordinators([], true)).toBeUndefined();
  });

  it('puts the leader first once it answers, the standbys after it (so a client follows a takeover)', () => {
    const sightings = [seen('10.0.0.2', 'standby'), seen('10.0.0.3', 'standby'), seen('10.0.0.1', 'leader')];
    expect(pickCoordinators(sightings, false)).toBe('10.0.0.1:7700,10.0.0.2:7700,10.0.0.3:7700');
  });

  it('with no leader by the end, hands back the standbys: each names the leader when asked', () => {
    expect(pickCoordinators([seen('10.0.0.2', 'standby'), seen('10.0.0.3', 'standby')], true)).toBe('10.0.0.2:7700,10.0.0.3:7700');
  });

  it('believes the latest announcement of an address: a standby that took over is the leader', () => {
    const sightings = [seen('10.0.0.2', 'standby'), seen('10.0.0.1', 'standby'), seen('10.0.0.2', 'leader')];
    expect(pickCoordinators(sightings, false)).toBe('10.0.0.2:7700,10.0.0.1:7700');
  });

  it('skips a sighting with no address it can dial', () => {
    const nowhere: Sighting = { name: 'x', port: 7700, addresses: ['fe80::1'], txt: { role: 'leader' } };
    expect(pickCoordinators([nowhere, seen('10.0.0.2', 'standby')], false)).toBeUndefined();
  });
});
