// Bad input is refused before any process exists: each case names its error class, code and
// option, and the native launch is never called (no clone, so no child, zombie or fd).
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { InvalidOptionError, OptionRangeError, spawnGuest, SpawnGuestError, type SpawnGuestOptions } from '../../lib/index.js';
import { capLastCap } from '../../lib/capabilities.js';
import { ngroupsMax } from '../../lib/identity.js';
import { loadNative } from '../../lib/native.js';
import { MAX_ARG_STRLEN } from '../../lib/launch-plan.js';
import { childrenOf, FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, openFds, uidOf } from '../support/fixtures.js';
import { inspectGuest, inspectPath, parseInspection, runGuest } from '../support/guests.js';

const user = FIXTURE_USERS.guest.name;
type ErrorClass = typeof InvalidOptionError | typeof OptionRangeError | typeof SpawnGuestError;

interface BadInput {
  what: string;
  /** Overrides of the valid call `spawnGuest('/bin/true', [], { user })`. */
  file?: unknown;
  args?: unknown;
  options?: Record<string, unknown>;
  /** Replaces the options object entirely. */
  rawOptions?: unknown;
  /** Variables set in process.env for the call (for passEnv). */
  processEnv?: Record<string, string>;
  error: ErrorClass;
  code: string;
  option: string;
}

const type = (option: string) => ({ error: InvalidOptionError, code: 'ERR_INVALID_ARG_TYPE', option });
const value = (option: string) => ({ error: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE', option });
const range = (option: string) => ({ error: OptionRangeError, code: 'ERR_OUT_OF_RANGE', option });
const root = (option: string) => ({ error: OptionRangeError, code: 'ERR_CAPSPAWN_ROOT_TARGET', option });
const tooBig = (option: string) => ({ error: OptionRangeError, code: 'ERR_CAPSPAWN_E2BIG', option });
const unknownUser = { error: SpawnGuestError, code: 'ERR_CAPSPAWN_UNKNOWN_USER', option: 'user' };
const unknownGroup = (option: string) => ({ error: SpawnGuestError, code: 'ERR_CAPSPAWN_UNKNOWN_GROUP', option });
const duplicate = (option: string) => ({ error: InvalidOptionError, code: 'ERR_CAPSPAWN_DUPLICATE_GROUP', option });

/** An id that would be `id` after truncation to 32 bits: it must be refused, never wrap. */
const wrapsTo = (id: number) => 2 ** 32 + id;

function catalogue(): BadInput[] {
  const extraGid = gidOf(FIXTURE_GROUPS.extra);
  const guestUid = uidOf(user);
  const lastCap = capLastCap();
  // A string of exactly MAX_ARG_STRLEN bytes: one byte too long with its NUL.
  const maxString = 'x'.repeat(MAX_ARG_STRLEN);
  const manyLarge = Array.from({ length: 60 }, () => 'y'.repeat(100_000));
  return [
    // Users.
    { what: 'an unknown user name', options: { user: 'capspawn-no-such-user' }, ...unknownUser },
    { what: 'a user name of digits is a name, never a uid', options: { user: String(guestUid) }, ...unknownUser },
    { what: 'uid -1', options: { user: -1 }, ...range('user') },
    { what: 'uid 2^32-1, (uid_t)-1 to the kernel', options: { user: 2 ** 32 - 1 }, ...range('user') },
    { what: 'uid 2^32, which would wrap to root', options: { user: 2 ** 32 }, ...range('user') },
    { what: 'uid 2^32 with allowRoot: still refused, never root', options: { user: 2 ** 32, allowRoot: true }, ...range('user') },
    { what: 'uid 2^32+1', options: { user: 2 ** 32 + 1 }, ...range('user') },
    { what: 'a uid that would wrap to the guest user', options: { user: wrapsTo(guestUid) }, ...range('user') },
    { what: 'uid -2^31', options: { user: -(2 ** 31) }, ...range('user') },
    { what: 'uid 2^53', options: { user: 2 ** 53 }, ...range('user') },
    { what: 'a fractional uid', options: { user: 1000.5 }, ...range('user') },
    { what: 'uid NaN', options: { user: Number.NaN }, ...range('user') },
    { what: 'uid Infinity', options: { user: Number.POSITIVE_INFINITY }, ...range('user') },
    { what: 'uid -Infinity', options: { user: Number.NEGATIVE_INFINITY }, ...range('user') },
    { what: 'a BigInt uid', options: { user: 1000n }, ...type('user') },
    { what: 'digits with a leading space', options: { user: ` ${guestUid}` }, ...value('user') },
    { what: 'digits with a trailing space', options: { user: `${guestUid} ` }, ...value('user') },
    { what: 'digits with a space inside', options: { user: '10 00' }, ...value('user') },
    { what: 'a name with a tab', options: { user: `\t${user}` }, ...value('user') },
    { what: 'a name with a colon', options: { user: `${user}:x` }, ...value('user') },
    { what: 'a name with a NUL byte', options: { user: `${user}\0` }, ...value('user') },
    { what: 'an empty user name', options: { user: '' }, ...value('user') },
    { what: 'no user', rawOptions: {}, ...type('user') },
    { what: 'user null', options: { user: null }, ...type('user') },
    { what: 'user as an object', options: { user: { uid: 1000 } }, ...type('user') },
    { what: 'user true', options: { user: true }, ...type('user') },
    { what: 'uid 0 without allowRoot', options: { user: 0 }, ...root('user') },
    { what: 'uid -0, which is 0', options: { user: -0 }, ...root('user') },
    { what: 'root by name without allowRoot', options: { user: 'root' }, ...root('user') },

    // Primary group.
    { what: 'an unknown primary group', options: { primaryGroup: 'capspawn-no-such-group' }, ...unknownGroup('primaryGroup') },
    { what: 'gid -1', options: { primaryGroup: -1 }, ...range('primaryGroup') },
    { what: 'gid 2^32, which would wrap to root', options: { primaryGroup: 2 ** 32 }, ...range('primaryGroup') },
    { what: 'gid 2^32+1', options: { primaryGroup: 2 ** 32 + 1 }, ...range('primaryGroup') },
    { what: 'a gid that would wrap to capspawn-extra', options: { primaryGroup: wrapsTo(extraGid) }, ...range('primaryGroup') },
    { what: 'a fractional gid', options: { primaryGroup: 0.5 }, ...range('primaryGroup') },
    { what: 'gid NaN', options: { primaryGroup: Number.NaN }, ...range('primaryGroup') },
    { what: 'a BigInt gid', options: { primaryGroup: 5n }, ...type('primaryGroup') },
    { what: 'a gid string with a space', options: { primaryGroup: ' 5' }, ...value('primaryGroup') },
    { what: 'gid 0 as primary group without allowRoot', options: { primaryGroup: 0 }, ...root('primaryGroup') },
    { what: 'group root as primary group without allowRoot', options: { primaryGroup: 'root' }, ...root('primaryGroup') },

    // Supplementary groups.
    {
      what: 'an unknown supplementary group',
      options: { supplementaryGroups: [FIXTURE_GROUPS.extra, 'capspawn-no-such-group'] },
      ...unknownGroup('supplementaryGroups[1]'),
    },
    { what: 'supplementary gid -1', options: { supplementaryGroups: [-1] }, ...range('supplementaryGroups[0]') },
    { what: 'supplementary gid 2^32', options: { supplementaryGroups: [2 ** 32] }, ...range('supplementaryGroups[0]') },
    { what: 'supplementary gid 2^32+1', options: { supplementaryGroups: [4242, 2 ** 32 + 1] }, ...range('supplementaryGroups[1]') },
    { what: 'a fractional supplementary gid', options: { supplementaryGroups: [1.5] }, ...range('supplementaryGroups[0]') },
    { what: 'supplementary gid NaN', options: { supplementaryGroups: [Number.NaN] }, ...range('supplementaryGroups[0]') },
    { what: 'a BigInt supplementary gid', options: { supplementaryGroups: [7n] }, ...type('supplementaryGroups[0]') },
    { what: 'supplementary digits with a space', options: { supplementaryGroups: ['12 34'] }, ...value('supplementaryGroups[0]') },
    { what: 'a null supplementary group', options: { supplementaryGroups: [null] }, ...type('supplementaryGroups[0]') },
    { what: 'supplementary groups as a string', options: { supplementaryGroups: FIXTURE_GROUPS.extra }, ...type('supplementaryGroups') },
    { what: 'gid 0 as supplementary group without allowRoot', options: { supplementaryGroups: [0] }, ...root('supplementaryGroups[0]') },
    {
      what: 'group root by name without allowRoot',
      options: { supplementaryGroups: [FIXTURE_GROUPS.extra, 'root'] },
      ...root('supplementaryGroups[1]'),
    },
    { what: 'a gid listed twice', options: { supplementaryGroups: [4242, 4243, 4242] }, ...duplicate('supplementaryGroups[2]') },
    {
      what: 'a group by name and by number',
      options: { supplementaryGroups: [FIXTURE_GROUPS.extra, extraGid] },
      ...duplicate('supplementaryGroups[1]'),
    },
    {
      what: 'NGROUPS_MAX + 1 groups',
      options: { supplementaryGroups: Array.from({ length: ngroupsMax() + 1 }, (_, i) => 100_000 + i) },
      ...range('supplementaryGroups'),
    },

    // Capabilities.
    { what: 'an unknown capability', options: { caps: ['net_admn'] }, ...value('caps[0]') },
    { what: 'a dashed capability', options: { caps: ['net-admin'] }, ...value('caps[0]') },
    { what: 'CAP_ twice', options: { caps: ['CAP_CAP_NET_ADMIN'] }, ...value('caps[0]') },
    { what: 'a capability with a space', options: { caps: ['net_admin', ' net_raw'] }, ...value('caps[1]') },
    { what: 'a capability as a string of digits', options: { caps: ['12'] }, ...value('caps[0]') },
    { what: 'an empty capability', options: { caps: [''] }, ...value('caps[0]') },
    { what: 'a capability with a NUL byte', options: { caps: ['net_admin\0'] }, ...value('caps[0]') },
    { what: 'capability -1', options: { caps: [-1] }, ...range('caps[0]') },
    { what: 'the capability after cap_last_cap', options: { caps: [lastCap + 1] }, ...range('caps[0]') },
    { what: 'capability 64', options: { caps: [64] }, ...range('caps[0]') },
    { what: 'a fractional capability', options: { caps: [12.5] }, ...range('caps[0]') },
    { what: 'capability NaN', options: { caps: [Number.NaN] }, ...range('caps[0]') },
    { what: 'a BigInt capability', options: { caps: [12n] }, ...type('caps[0]') },
    { what: 'a null capability', options: { caps: ['net_admin', null] }, ...type('caps[1]') },
    { what: 'caps as a string', options: { caps: 'net_admin' }, ...type('caps') },

    // NUL bytes anywhere a string reaches a system call.
    { what: 'a NUL byte in the program', file: '/bin/true\0/bin/sh', ...value('file') },
    { what: 'a NUL byte in the first argument', args: ['a\0'], ...value('args[0]') },
    { what: 'a NUL byte in a later argument', args: ['a', 'b', 'c\0d'], ...value('args[2]') },
    { what: 'a NUL byte in argv0', options: { argv0: 'x\0y' }, ...value('argv0') },
    { what: 'a NUL byte in an env key', options: { env: { 'A\0B': '1' } }, ...value('env.A\0B') },
    { what: 'a NUL byte in an env value', options: { env: { V: 'a\0b' } }, ...value('env.V') },
    { what: 'a NUL byte in cwd', options: { cwd: '/tmp\0/x' }, ...value('cwd') },
    { what: 'a NUL byte in a passEnv name', options: { passEnv: ['HOME\0'] }, ...value('passEnv[0]') },

    // Empty and malformed strings.
    { what: 'an empty program', file: '', ...value('file') },
    { what: 'an empty argv0', options: { argv0: '' }, ...value('argv0') },
    { what: 'an empty env key', options: { env: { '': 'x' } }, ...value('env.') },
    { what: 'an env key with =', options: { env: { 'A=B': 'x' } }, ...value('env.A=B') },
    { what: 'an env key that is only =', options: { env: { '=': 'x' } }, ...value('env.=') },
    { what: 'an empty passEnv name', options: { passEnv: [''] }, ...value('passEnv[0]') },
    { what: 'a passEnv name with =', options: { passEnv: ['A=B'] }, ...value('passEnv[0]') },
    { what: 'an empty cwd', options: { cwd: '' }, ...value('cwd') },

    // Sizes (execve's E2BIG, caught before the launch).
    { what: 'one argument of 128 KiB', args: ['ok', maxString], ...tooBig('args[1]') },
    { what: 'an argv0 of 128 KiB', options: { argv0: maxString }, ...tooBig('argv0') },
    { what: 'an env value of 128 KiB', options: { env: { BIG: maxString } }, ...tooBig('env.BIG') },
    {
      what: 'an argument of 64 Ki two-byte characters (bytes count, not characters)',
      args: ['ü'.repeat(MAX_ARG_STRLEN / 2)],
      ...tooBig('args[0]'),
    },
    {
      what: 'a passEnv variable of 128 KiB',
      options: { passEnv: ['CAPSPAWN_HARDENING_BIG'] },
      processEnv: { CAPSPAWN_HARDENING_BIG: maxString },
      ...tooBig('env.CAPSPAWN_HARDENING_BIG'),
    },
    { what: 'arguments over the total limit', args: manyLarge, ...tooBig('args') },
    {
      what: 'environment over the total limit',
      options: { env: Object.fromEntries(manyLarge.map((v, i) => [`V${i}`, v])) },
      ...tooBig('args'),
    },

    // Types and unknown options.
    { what: 'args as a string (blamed on args, not on the options)', args: 'x', ...type('args') },
    { what: 'a number argument', args: [1], ...type('args[0]') },
    { what: 'a number program', file: 42, ...type('file') },
    { what: 'options null', rawOptions: null, ...type('options') },
    { what: 'an unknown option', options: { uid: 1000 }, ...value('uid') },
    { what: 'env as an array', options: { env: [] }, ...type('env') },
    { what: 'a number env value', options: { env: { A: 1 } }, ...type('env.A') },
    { what: 'cwd as a number', options: { cwd: 42 }, ...type('cwd') },
    { what: 'an unknown stdio word', options: { stdio: 'bogus' }, ...type('stdio[0]') },
  ];
}

describe.runIf(isRoot)(`bad input, refused before any process exists (${notRootReason})`, () => {
  let launch: MockInstance;
  let fdsBefore: number[] = [];
  beforeEach(() => {
    launch = vi.spyOn(loadNative(), 'launch');
    fdsBefore = openFds();
  });
  afterEach(() => {
    launch.mockRestore();
  });

  const cases = isRoot ? catalogue() : [];

  it(`has a catalogue of at least 50 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.each(cases.map((c) => [c.what, c] as const))('refuses %s', async (_, c) => {
    const saved = Object.keys(c.processEnv ?? {}).map((k) => [k, process.env[k]] as const);
    Object.assign(process.env, c.processEnv);
    let error: unknown;
    try {
      const options = 'rawOptions' in c ? c.rawOptions : { user, ...c.options };
      await spawnGuest((c.file ?? '/bin/true') as string, (c.args ?? []) as string[], options as SpawnGuestOptions);
    } catch (caught) {
      error = caught;
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(error, 'spawnGuest resolved').toBeDefined();
    expect(Object.getPrototypeOf(error)).toBe(c.error.prototype);
    expect(error).toMatchObject({ code: c.code, option: c.option });
    expect(launch).not.toHaveBeenCalled();
    expect(childrenOf()).toEqual([]);
    expect(openFds()).toEqual(fdsBefore);
  });
});

// cwd: a relative path is joined to process.cwd() when spawnGuest is called, never normalised
// (the kernel resolves . and .., as the target user, as for child_process), then entered as the
// target user; a relative program path is joined to the guest's working directory.
// docs/hardening.md says the same.
describe.runIf(isRoot)(`relative paths (${notRootReason})`, () => {
  const startDir = process.cwd();
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-relative-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true, mode: 0o755 });
    process.chdir(dir);
  });
  afterAll(() => {
    process.chdir(startDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves a relative cwd against process.cwd(), not the home directory or /', async () => {
    expect((await inspectGuest({ user, cwd: 'sub' })).cwd).toBe(join(dir, 'sub'));
    expect((await inspectGuest({ user, cwd: '.' })).cwd).toBe(dir);
  });

  it('leaves . and .. in a relative cwd to the kernel, which enters the directory they name', async () => {
    expect((await inspectGuest({ user, cwd: './sub/deeper/../deeper/.' })).cwd).toBe(join(dir, 'sub', 'deeper'));
    expect((await inspectGuest({ user, cwd: 'sub/..' })).cwd).toBe(dir);
  });

  it('inherits process.cwd() when cwd is not given', async () => {
    process.chdir(join(dir, 'sub'));
    try {
      expect((await inspectGuest({ user })).cwd).toBe(join(dir, 'sub'));
    } finally {
      process.chdir(dir);
    }
  });

  it("resolves a relative program path against the guest's cwd", async () => {
    const inspector = inspectPath();
    const [inspectorDir, name] = [inspector.slice(0, inspector.lastIndexOf('/')), inspector.slice(inspector.lastIndexOf('/') + 1)];
    const out = await runGuest(`./${name}`, [], { user, cwd: inspectorDir });
    expect(out.code, out.stderr).toBe(0);
    expect(parseInspection(out.stdout).cwd).toBe(inspectorDir);
    // The same relative name from here, without cwd, is looked for in process.cwd(): absent.
    await expect(spawnGuest(`./${name}`, { user })).rejects.toMatchObject({ code: 'ENOENT', step: 'execve', path: `${dir}/./${name}` });
  });
});
