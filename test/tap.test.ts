import { describe, expect, it } from 'vitest';
import { checkTapName, checkTapOptions, MAX_TAP_NAME_BYTES, tapHint } from '../lib/tap.js';

describe('TAP names and options, checked before anything is made', () => {
  it('accepts names of 1 to 15 bytes as the kernel stores them', () => {
    expect(MAX_TAP_NAME_BYTES).toBe(15);
    expect(checkTapName('cvd-mtap-01')).toBe('cvd-mtap-01');
    expect(checkTapName('a'.repeat(15))).toBe('a'.repeat(15));
  });

  it('refuses a name longer than 15 bytes, counting bytes, not characters', () => {
    expect(() => checkTapName('a'.repeat(16))).toThrow(
      expect.objectContaining({
        name: 'RangeError',
        code: 'ERR_OUT_OF_RANGE',
        option: 'name',
        message: expect.stringContaining('16 bytes, longer than 15 bytes'),
      }),
    );
    expect(checkTapName('tapé'.repeat(3))).toBe('tapé'.repeat(3)); // 12 characters, 15 bytes
    expect(() => checkTapName('tapé'.repeat(3) + 'x')).toThrow(/16 bytes, longer than 15 bytes/);
  });

  it.each(['', '.', '..', 'a/b', 'a:b', 'a b', 'tap%d', 'a\0b', 'a\tb'])('refuses %j', (name) => {
    expect(() => checkTapName(name)).toThrow(expect.objectContaining({ name: 'TypeError', option: 'name' }));
  });

  it('refuses a name that is no string, and unknown or mistyped options', () => {
    expect(() => checkTapName(5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => checkTapOptions({ grp: 'x' })).toThrow(
      expect.objectContaining({ option: 'grp', message: expect.stringContaining('is not an option of createTap') }),
    );
    expect(() => checkTapOptions({ up: 'yes' })).toThrow(expect.objectContaining({ option: 'up', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => checkTapOptions({ group: -1 })).toThrow(expect.objectContaining({ option: 'group', code: 'ERR_OUT_OF_RANGE' }));
    expect(checkTapOptions({ user: 'justin', group: 993 })).toEqual({
      user: 'justin',
      group: 993,
      vnetHdr: false,
      multiQueue: false,
      up: false,
    });
  });

  it('hints say what to check', () => {
    expect(tapHint('EPERM', 'TUNSETIFF', 'x')).toMatch(/^needs CAP_NET_ADMIN/);
    expect(tapHint('ENOENT', 'open', 'x')).toMatch(/modprobe tun/);
    expect(tapHint('EBUSY', 'TUNSETIFF', 'x', [42])).toMatch(/an orphaned QEMU\?\): held by pid 42/);
  });
});
