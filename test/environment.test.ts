import { describe, expect, it } from 'vitest';
import {
  buildEnvironment,
  checkEnvOption,
  checkPassEnvOption,
  DEFAULT_PATH,
  globSkipReason,
  isLoaderVariable,
} from '../lib/environment.js';

const who = { name: 'justin', home: '/home/justin', shell: '/bin/bash' };

describe('buildEnvironment', () => {
  it("starts with PATH and the target user's HOME, USER, LOGNAME, SHELL only", () => {
    const env = buildEnvironment({ identity: who, source: { SECRET: 'x', PATH: '/evil' } });
    expect([...env]).toEqual([
      ['PATH', DEFAULT_PATH],
      ['HOME', '/home/justin'],
      ['USER', 'justin'],
      ['LOGNAME', 'justin'],
      ['SHELL', '/bin/bash'],
    ]);
  });

  it('omits the user variables for a uid without a passwd entry', () => {
    expect([...buildEnvironment({ identity: null, source: {} }).keys()]).toEqual(['PATH']);
  });

  it('copies names and globs from the source; env overrides; undefined removes', () => {
    const source = { CUTTLEFISH_INSTANCE: '1', CUTTLEFISH_HOME: '/c', GFXSTREAM_X: 'y', OTHER: 'no', TERM: 'xterm' };
    const env = buildEnvironment({
      identity: who,
      source,
      passEnv: ['CUTTLEFISH_*', 'GFXSTREAM_?', 'TERM', 'MISSING'],
      env: { CUTTLEFISH_INSTANCE: '85', SHELL: undefined },
    });
    expect(Object.fromEntries(env)).toEqual({
      PATH: DEFAULT_PATH,
      HOME: '/home/justin',
      USER: 'justin',
      LOGNAME: 'justin',
      CUTTLEFISH_INSTANCE: '85',
      CUTTLEFISH_HOME: '/c',
      GFXSTREAM_X: 'y',
      TERM: 'xterm',
    });
  });

  it('never copies loader variables through a glob, even "*"', () => {
    const source = {
      LD_PRELOAD: '/tmp/evil.so',
      LD_LIBRARY_PATH: '/tmp',
      GCONV_PATH: '/tmp',
      GLIBC_TUNABLES: 'x',
      MALLOC_CHECK_: '3',
      NODE_OPTIONS: '--require /tmp/x',
      TMPDIR: '/tmp',
      HARMLESS: 'ok',
    };
    const env = buildEnvironment({ identity: null, source, passEnv: ['*'] });
    expect([...env.keys()].sort()).toEqual(['HARMLESS', 'PATH']);
  });

  it('copies a loader variable named exactly, and sets one given in env', () => {
    const env = buildEnvironment({
      identity: null,
      source: { LD_LIBRARY_PATH: '/opt/lib' },
      passEnv: ['LD_LIBRARY_PATH'],
      env: { LD_PRELOAD: '/x.so' },
    });
    expect(env.get('LD_LIBRARY_PATH')).toBe('/opt/lib');
    expect(env.get('LD_PRELOAD')).toBe('/x.so');
  });

  it('treats glob characters other than * and ? literally', () => {
    const env = buildEnvironment({ identity: null, source: { 'A.B': '1', AXB: '2' }, passEnv: ['A.?'] });
    expect(env.get('A.B')).toBe('1');
    expect(env.has('AXB')).toBe(false);
  });

  it("never lets a glob replace the target's PATH, HOME, USER, LOGNAME or SHELL; an exact name or env still does", () => {
    const identity = { name: 'nobody', home: '/nonexistent', shell: '/usr/sbin/nologin' };
    const source = { HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', PATH: '/root/bin', HISTSIZE: '5' };
    for (const glob of ['*', 'H*', '?OME', 'PA*', '*SER']) {
      const env = buildEnvironment({ identity, source, passEnv: [glob] });
      expect(Object.fromEntries(env)).toMatchObject({
        HOME: '/nonexistent',
        USER: 'nobody',
        LOGNAME: 'nobody',
        SHELL: '/usr/sbin/nologin',
        PATH: DEFAULT_PATH,
      });
    }
    expect(buildEnvironment({ identity, source, passEnv: ['H*'] }).get('HISTSIZE')).toBe('5');
    expect(buildEnvironment({ identity, source, passEnv: ['*', 'HOME'] }).get('HOME')).toBe('/root');
    expect(buildEnvironment({ identity, source, passEnv: ['*'], env: { PATH: '/x' } }).get('PATH')).toBe('/x');
    // A uid without a passwd entry has no HOME to keep: a glob still does not copy the daemon's.
    expect(buildEnvironment({ identity: null, source, passEnv: ['*'] }).has('HOME')).toBe(false);
  });

  it.each([
    'BASH_FUNC_ls%%',
    'SHELLOPTS',
    'BASHOPTS',
    'PS4',
    'ENV',
    'BASH_ENV',
    'JAVA_TOOL_OPTIONS',
    '_JAVA_OPTIONS',
    'JDK_JAVA_OPTIONS',
    'PERL5OPT',
    'PERL5LIB',
    'PERLLIB',
    'PERL5DB',
    'PYTHONSTARTUP',
    'PYTHONPATH',
    'PYTHONHOME',
    'PYTHONINSPECT',
    'PYTHONBREAKPOINT',
    'RUBYOPT',
    'RUBYLIB',
    'LUA_INIT',
    'LUA_INIT_5_4',
    'OPENSSL_CONF',
    'OPENSSL_ENGINES',
  ])('a glob never copies the interpreter hook %s; naming it exactly does', (name) => {
    expect(globSkipReason(name)).toBe('interpreter');
    expect(buildEnvironment({ identity: null, source: { [name]: 'x' }, passEnv: ['*'] }).has(name)).toBe(false);
    expect(buildEnvironment({ identity: null, source: { [name]: 'x' }, passEnv: [name] }).get(name)).toBe('x');
  });

  it("holds glibc's whole unsecure list (sysdeps/generic/unsecvars.h) as loader variables", () => {
    const unsecvars = [
      'GCONV_PATH',
      'GETCONF_DIR',
      'GLIBC_TUNABLES',
      'HOSTALIASES',
      'LD_AUDIT',
      'LD_DEBUG',
      'LD_DEBUG_OUTPUT',
      'LD_DYNAMIC_WEAK',
      'LD_HWCAP_MASK',
      'LD_LIBRARY_PATH',
      'LD_ORIGIN_PATH',
      'LD_PRELOAD',
      'LD_PROFILE',
      'LD_SHOW_AUXV',
      'LD_USE_LOAD_BIAS',
      'LOCALDOMAIN',
      'LOCPATH',
      'MALLOC_TRACE',
      'NIS_PATH',
      'NLSPATH',
      'RESOLV_HOST_CONF',
      'RES_OPTIONS',
      'TMPDIR',
      'TZDIR',
    ];
    for (const name of unsecvars) expect(globSkipReason(name), name).toBe('loader');
  });

  it.each(['LD_PRELOAD', 'LD_AUDIT', 'MALLOC_ARENA_MAX', 'GLIBC_TUNABLES', 'NODE_OPTIONS', 'GCONV_PATH', 'LOCPATH', 'RES_OPTIONS'])(
    '%s is a loader variable',
    (name) => expect(isLoaderVariable(name)).toBe(true),
  );
});

describe('env and passEnv options', () => {
  it.each([
    [{ '': 'x' }, 'env.'],
    [{ 'A=B': 'x' }, 'env.A=B'],
    [{ 'A\0B': 'x' }, 'env.A\0B'],
  ])('refuses the key of %o', (env, option) => {
    expect(() => checkEnvOption(env)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', option }));
  });

  it('refuses a value with a NUL byte and a value that is not a string', () => {
    expect(() => checkEnvOption({ A: 'x\0y' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', option: 'env.A' }));
    expect(() => checkEnvOption({ A: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'env.A' }));
    expect(() => checkEnvOption([])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'env' }));
  });

  it('keeps values with newlines, "=" and UTF-8 as they are', () => {
    expect(checkEnvOption({ A: 'a=b\nc ✓' })).toEqual({ A: 'a=b\nc ✓' });
  });

  it('refuses passEnv entries that are not names', () => {
    expect(() => checkPassEnvOption('X')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'passEnv' }));
    expect(() => checkPassEnvOption(['X', ''])).toThrow(expect.objectContaining({ option: 'passEnv[1]' }));
    expect(() => checkPassEnvOption([3])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'passEnv[0]' }));
  });
});
