import { describe, expect, it } from 'vitest';
import { RLIMIT_RESOURCES, rlimitName } from '../lib/placement.js';
import {
  CAPABILITY_NAMES,
  capabilitiesInMask,
  capabilityHex,
  capabilityMask,
  capabilityName,
  capabilityNumber,
  parseCapability,
} from '../lib/capabilities.js';

describe('parseCapability', () => {
  it.each([
    ['net_admin', 12],
    ['CAP_NET_ADMIN', 12],
    ['+net_admin', 12],
    [12, 12],
    ['syslog', 34],
    ['CAP_CHOWN', 0],
  ])('reads %o as %i', (spec, cap) => {
    expect(parseCapability(spec, 'caps', 40)).toBe(cap);
  });

  it('reads -0 as capability 0 and gives back 0, not -0', () => {
    expect(Object.is(parseCapability(-0, 'caps', 40), 0)).toBe(true);
  });

  it.each(['cap_net_admin', 'NET_ADMIN', 'Net_Admin', '+CAP_NET_ADMIN', 'CAP_net_admin', 'Cap_Net_Admin', '+NET_ADMIN'])(
    'reads %o as 12, in any case, as getcap and capsh spell it',
    (spec) => {
      expect(parseCapability(spec, 'caps[0]', 40)).toBe(12);
    },
  );

  it('suggests the right spelling for a dashed name', () => {
    expect(() => parseCapability('net-admin', 'caps', 40)).toThrow(/did you mean 'net_admin'/);
  });

  it.each(['net_admn', '', 'all', '12', ' net_admin'])('refuses the unknown name %o', (spec) => {
    expect(() => parseCapability(spec, 'caps', 40)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it.each([41, -1, 1.5, Number.NaN, 2 ** 32])('refuses the number %o outside 0..cap_last_cap', (spec) => {
    expect(() => parseCapability(spec, 'caps', 40)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
  });

  it("refuses a name above this kernel's cap_last_cap", () => {
    expect(() => parseCapability('checkpoint_restore', 'caps', 39)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it.each([null, undefined, 12n, {}, ['net_admin']])('refuses %o by type', (spec) => {
    expect(() => parseCapability(spec, 'caps', 40)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('capability masks', () => {
  it('CAP_NET_ADMIN is 0000000000001000 and with CAP_NET_RAW 0000000000003000', () => {
    expect(capabilityHex(capabilityMask([12]))).toBe('0000000000001000');
    expect(capabilityHex(capabilityMask([12, 13]))).toBe('0000000000003000');
    expect(capabilityHex(capabilityMask([34]))).toBe('0000000400000000');
  });

  it('round-trips every known capability', () => {
    const all = CAPABILITY_NAMES.map((_, n) => n);
    expect(capabilitiesInMask(capabilityMask(all))).toEqual(all);
    expect(capabilityName(12)).toBe('CAP_NET_ADMIN');
    expect(capabilityName(63)).toBe('CAP_63');
  });
});

describe('names of kernel numbers', () => {
  it('capabilityNumber gives linux/capability.h numbers', () => {
    expect(capabilityNumber('chown')).toBe(0);
    expect(capabilityNumber('net_admin')).toBe(12);
    expect(capabilityNumber('sys_resource')).toBe(24);
  });

  it('rlimitName inverts RLIMIT_RESOURCES, and names nothing else', () => {
    for (const [name, resource] of Object.entries(RLIMIT_RESOURCES)) expect(rlimitName(resource)).toBe(name);
    expect(rlimitName(7)).toBe('nofile');
    expect(rlimitName(99)).toBeUndefined();
  });
});
