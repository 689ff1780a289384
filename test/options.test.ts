import { describe, expect, it } from 'vitest';
import { checkOptionPaths, MAX_ID, normalizeOptions } from '../lib/options.js';
import { RLIM_INFINITY } from '../lib/procfs.js';
import { fakeHostFacts, fakeHostFactsWithSysResource } from './support/host-facts.js';

const base = { user: 'justin' };
const normalize = (options: object, file: unknown = '/bin/true', args: unknown = []) =>
  normalizeOptions(file, args, options, fakeHostFacts);
const fails = (options: object, expected: Record<string, unknown>, file: unknown = '/bin/true', args: unknown = []) =>
  expect(() => normalizeOptions(file, args, options, fakeHostFacts)).toThrow(expect.objectContaining(expected));

describe('normalizeOptions', () => {
  it('fills the defaults: pipes, no caps, SIGTERM, no root', () => {
    const o = normalize(base);
    expect(o).toMatchObject({
      file: '/bin/true',
      args: [],
      argv0: '/bin/true',
      user: 'justin',
      caps: [],
      detached: false,
      allowRoot: false,
      killSignal: 15,
      forceKillAfter: 5000,
      parentDeathSignal: 0,
      umask: undefined,
      cwd: undefined,
    });
    expect(o.stdio.map((s) => s.kind)).toEqual(['pipe', 'pipe', 'pipe']);
  });

  it('sorts and de-duplicates capabilities given in any spelling', () => {
    expect(normalize({ ...base, caps: ['net_raw', 'CAP_NET_ADMIN', '+net_admin', 12] }).caps).toEqual([12, 13]);
    expect(normalize({ ...base, caps: ['cap_net_admin', 'Cap_Net_Raw', 'NET_ADMIN'] }).caps).toEqual([12, 13]);
  });

  it('resolves a relative cwd against process.cwd()', () => {
    expect(normalize({ ...base, cwd: 'sub/dir' }).cwd).toBe(`${process.cwd()}/sub/dir`);
  });

  it('maps stdio shorthands and slots like child_process', () => {
    expect(normalize({ ...base, stdio: 'inherit' }).stdio).toEqual([
      { kind: 'inherit', fd: 0 },
      { kind: 'inherit', fd: 1 },
      { kind: 'inherit', fd: 2 },
    ]);
    expect(normalize({ ...base, stdio: ['ignore', 7, null, undefined, 'pipe'] }).stdio).toEqual([
      { kind: 'ignore', fd: -1 },
      { kind: 'fd', fd: 7 },
      { kind: 'pipe', fd: -1 },
      { kind: 'ignore', fd: -1 },
      { kind: 'pipe', fd: -1 },
    ]);
  });

  it('accepts signals by name and number', () => {
    expect(normalize({ ...base, killSignal: 'SIGKILL', parentDeathSignal: 15 })).toMatchObject({ killSignal: 9, parentDeathSignal: 15 });
  });

  it.each([
    [{}, { code: 'ERR_INVALID_ARG_TYPE', option: 'user' }],
    [{ user: -1 }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: 2 ** 32 - 1 }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: 2 ** 32 }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: 2 ** 32 + 1 }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: 1.5 }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: Number.NaN }, { code: 'ERR_OUT_OF_RANGE', option: 'user' }],
    [{ user: 1000n }, { code: 'ERR_INVALID_ARG_TYPE', option: 'user' }],
    [{ user: '' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'user' }],
    [{ user: ' 1000' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'user' }],
    [{ user: 'a\0b' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'user' }],
    [
      { ...base, primaryGroup: -1 },
      { code: 'ERR_OUT_OF_RANGE', option: 'primaryGroup' },
    ],
    [
      { ...base, supplementaryGroups: 'kvm' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'supplementaryGroups' },
    ],
    [
      { ...base, supplementaryGroups: ['kvm', 2 ** 32] },
      { code: 'ERR_OUT_OF_RANGE', option: 'supplementaryGroups[1]' },
    ],
    [
      { ...base, extraGroups: 'kvm' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'extraGroups' },
    ],
    [
      { ...base, extraGroups: ['kvm', ''] },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'extraGroups[1]' },
    ],
    [
      { ...base, caps: 'net_admin' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'caps' },
    ],
    [
      { ...base, caps: ['net_admin', 'net-raw'] },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'caps[1]' },
    ],
    [
      { ...base, cwd: '' },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'cwd' },
    ],
    [
      { ...base, cwd: '/a\0b' },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'cwd' },
    ],
    [
      { ...base, argv0: '' },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'argv0' },
    ],
    [
      { ...base, umask: 0o1000 },
      { code: 'ERR_OUT_OF_RANGE', option: 'umask' },
    ],
    [
      { ...base, umask: '022' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'umask' },
    ],
    [
      { ...base, timeout: 0 },
      { code: 'ERR_OUT_OF_RANGE', option: 'timeout' },
    ],
    [
      { ...base, killSignal: 'SIGNOPE' },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'killSignal' },
    ],
    [
      { ...base, forceKillAfter: -1 },
      { code: 'ERR_OUT_OF_RANGE', option: 'forceKillAfter' },
    ],
    [
      { ...base, forceKillAfter: 1.5 },
      { code: 'ERR_OUT_OF_RANGE', option: 'forceKillAfter' },
    ],
    [
      { ...base, forceKillAfter: '5s' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'forceKillAfter' },
    ],
    [
      { ...base, parentDeathSignal: 65 },
      { code: 'ERR_OUT_OF_RANGE', option: 'parentDeathSignal' },
    ],
    [
      { ...base, detached: 'yes' },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'detached' },
    ],
    [
      { ...base, signal: {} },
      { code: 'ERR_INVALID_ARG_TYPE', option: 'signal' },
    ],
    [
      { ...base, stdio: ['pipe', {}] },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'stdio[1]' },
    ],
    [
      { ...base, stdio: [-1] },
      { code: 'ERR_OUT_OF_RANGE', option: 'stdio[0]' },
    ],
    [
      { ...base, uid: 1000 },
      { code: 'ERR_INVALID_ARG_VALUE', option: 'uid' },
    ],
  ])('refuses %o', (options, expected) => fails(options, expected));

  it('accepts the largest valid id, 2^32-2', () => {
    expect(normalize({ user: MAX_ID }).user).toBe(MAX_ID);
  });

  it('gives back -0 as id 0 and capability 0, not -0', () => {
    const options = normalize({ user: 1000, primaryGroup: -0, allowRoot: true, caps: [-0] });
    expect(Object.is(options.primaryGroup, 0)).toBe(true);
    expect(Object.is(options.caps[0], 0)).toBe(true);
  });

  it('refuses NUL bytes in the program and the arguments, and an empty program', () => {
    fails(base, { code: 'ERR_INVALID_ARG_VALUE', option: 'file' }, '/bin/a\0b');
    fails(base, { code: 'ERR_INVALID_ARG_VALUE', option: 'file' }, '');
    fails(base, { code: 'ERR_INVALID_ARG_VALUE', option: 'args[1]' }, '/bin/true', ['ok', 'x\0']);
    fails(base, { code: 'ERR_INVALID_ARG_TYPE', option: 'args[0]' }, '/bin/true', [1]);
    fails(base, { code: 'ERR_INVALID_ARG_TYPE', option: 'args' }, '/bin/true', 'x');
  });

  it('refuses a missing options object', () => {
    expect(() => normalizeOptions('/bin/true', [], undefined, fakeHostFacts)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'options' }),
    );
  });
});

describe('normalizeOptions against host facts', () => {
  it("refuses a hard limit above this process's own, from the facts alone, without CAP_SYS_RESOURCE", () => {
    fails(
      { ...base, rlimits: { nofile: [1024, 1_048_576] } },
      {
        code: 'ERR_CAPSPAWN_RLIMIT_ABOVE_HARD',
        option: 'rlimits.nofile',
        message: 'The "rlimits.nofile" hard limit 1048576 is above this process\'s own (524288), and raising it needs CAP_SYS_RESOURCE',
      },
    );
    expect(normalize({ ...base, rlimits: { nofile: [1024, 524_288], core: 'unlimited' } }).rlimits).toEqual([
      { resource: 7, soft: 1024n, hard: 524_288n },
      { resource: 4, soft: RLIM_INFINITY, hard: RLIM_INFINITY },
    ]);
  });

  it('lets a process holding CAP_SYS_RESOURCE raise a hard limit', () => {
    const options = normalizeOptions('/bin/true', [], { ...base, rlimits: { nofile: 'unlimited' } }, fakeHostFactsWithSysResource);
    expect(options.rlimits).toEqual([{ resource: 7, soft: RLIM_INFINITY, hard: RLIM_INFINITY }]);
  });

  it('takes the highest capability from the facts: cap_last_cap 39 has no checkpoint_restore', () => {
    expect(normalize({ ...base, caps: ['checkpoint_restore', 40] }).caps).toEqual([40]);
    const older = { ...fakeHostFacts, capLastCap: 39 };
    for (const spec of ['checkpoint_restore', 40]) {
      expect(() => normalizeOptions('/bin/true', [], { ...base, caps: [spec] }, older)).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', option: 'caps[0]' }),
      );
    }
  });

  it('leaves the paths in cgroup and netns to checkOptionPaths', () => {
    const checked = normalize({ ...base, cgroup: '/nonexistent/capspawn', netns: '/nonexistent/netns' });
    expect(checked).toMatchObject({ cgroup: { join: '/nonexistent/capspawn' }, netns: '/nonexistent/netns' });
    expect(normalize({ ...base, cgroup: { parent: '/nonexistent/capspawn', name: 'vm' } }).cgroup).toEqual({
      parent: '/nonexistent/capspawn',
      name: 'vm',
      limits: [],
      keep: false,
    });
    expect(() => checkOptionPaths(checked, fakeHostFacts)).toThrow(
      expect.objectContaining({ code: 'ERR_CAPSPAWN_NOT_CGROUP2', option: 'cgroup' }),
    );
    expect(() => checkOptionPaths(normalize({ ...base, netns: '/nonexistent/netns' }), fakeHostFacts)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', option: 'netns' }),
    );
  });

  it('still refuses a cgroup or netns that is no absolute path in the pure checks', () => {
    fails({ ...base, cgroup: 'relative' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'cgroup' });
    fails({ ...base, cgroup: { parent: 5 } }, { code: 'ERR_INVALID_ARG_TYPE', option: 'cgroup.parent' });
    fails({ ...base, netns: 'x' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'netns' });
  });
});
