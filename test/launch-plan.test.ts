import { describe, expect, it } from 'vitest';
import { checkOptionPaths, normalizeOptions } from '../lib/options.js';
import { buildLaunchPlan, guestSecurebits, MAX_ARG_STRLEN, nulBlock, STDIO_KINDS } from '../lib/launch-plan.js';
import { fakeHostFacts } from './support/host-facts.js';

const identity = { uid: 1000, gid: 990, groups: [104, 990], user: null };
const facts = fakeHostFacts;
const checked = (args: string[], options: object) => checkOptionPaths(normalizeOptions('/bin/true', args, options, facts), facts);
const plan = (options: object, env = new Map([['PATH', '/usr/bin']]), args: string[] = []) =>
  buildLaunchPlan(checked(args, { user: 1000, ...options }), identity, env, ['/bin/true'], facts);

describe('buildLaunchPlan', () => {
  it('joins strings as C strings', () => {
    expect(nulBlock(['a', 'bc'])).toEqual(Buffer.from('a\0bc\0'));
    expect(nulBlock([])).toEqual(Buffer.alloc(0));
  });

  it('carries ids, groups and the capability words', () => {
    const p = plan({ caps: ['net_admin', 'syslog'] });
    expect(p).toMatchObject({ uid: 1000, gid: 990, noRoot: false, umask: -1, cwd: null, parentDeathSignal: 0 });
    expect([...p.groups]).toEqual([104, 990]);
    expect([...p.caps]).toEqual([1 << 12, 1 << 2]);
    expect(p.argv).toEqual(Buffer.from('/bin/true\0'));
    expect(p.env).toEqual(Buffer.from('PATH=/usr/bin\0'));
  });

  it('sets SECBIT_NOROOT for a uid 0 target, so execve gives it only the asked capabilities', () => {
    const p = buildLaunchPlan(checked([], { user: 0, allowRoot: true }), { ...identity, uid: 0 }, new Map(), ['/bin/true'], facts);
    expect(p.noRoot).toBe(true);
  });

  it("gives a guest the daemon's securebits, SECBIT_NOROOT (locked) added for uid 0, SECBIT_KEEP_CAPS cleared by execve", () => {
    expect(guestSecurebits(0x40, 0)).toBe(0x43);
    expect(guestSecurebits(0xc0, 0)).toBe(0xc3);
    expect(guestSecurebits(0x40, 1000)).toBe(0x40);
    expect(guestSecurebits(0x30, 1000)).toBe(0x20);
  });

  it('plans pipes by direction, /dev/null for ignored stdio and closes ignored extra slots', () => {
    const p = plan({ stdio: ['pipe', 'pipe', 'ignore', 'pipe', 'ignore', 'inherit', 9] });
    const k = STDIO_KINDS;
    expect([...p.stdio]).toEqual([
      k.pipe_to_child,
      -1,
      k.pipe_from_child,
      -1,
      k.devnull,
      -1,
      k.socketpair,
      -1,
      k.closed,
      -1,
      k.fd,
      5,
      k.fd,
      9,
    ]);
  });

  it('refuses one argument over MAX_ARG_STRLEN before spawning (E2BIG)', () => {
    expect(() => plan({}, undefined, ['ok', 'x'.repeat(MAX_ARG_STRLEN)])).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_CAPSPAWN_E2BIG', option: 'args[1]' }),
    );
    expect(() => plan({}, new Map([['BIG', 'x'.repeat(MAX_ARG_STRLEN)]]))).toThrow(expect.objectContaining({ option: 'env.BIG' }));
    expect(() => plan({}, undefined, ['x'.repeat(MAX_ARG_STRLEN - 2)])).not.toThrow();
  });

  it('refuses arguments that together exceed the kernel limit', () => {
    const args = Array.from({ length: 100 }, () => 'y'.repeat(100_000));
    expect(() => plan({}, undefined, args)).toThrow(expect.objectContaining({ code: 'ERR_CAPSPAWN_E2BIG', option: 'args' }));
  });
});
