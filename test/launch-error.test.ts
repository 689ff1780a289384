import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SpawnGuestError } from '../lib/errors.js';
import { launchFailure, preparationFailure, type LaunchContext } from '../lib/launch-error.js';
import type { StepName } from '../lib/steps.js';

const ctx: LaunchContext = {
  file: 'qemu',
  candidates: ['/usr/local/bin/qemu', '/usr/bin/qemu'],
  cwd: '/srv/guest',
  uid: 1000,
  gid: 990,
  caps: [12],
  guestPath: '/usr/local/bin:/usr/bin',
  spawnargs: ['qemu', '-m', '1G'],
};
const at = (step: StepName, errno: number, detail = 0, signal = 0) => launchFailure({ step, errno, detail, signal }, ctx);

describe('launchFailure', () => {
  it('takes a failure found before any child: execve ENOENT with no candidate names the program', () => {
    const e = launchFailure({ step: 'execve', errno: 2 }, { ...ctx, candidates: [] });
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, step: 'execve', syscall: 'execve', path: 'qemu' });
    expect(e.signal).toBeUndefined();
    expect(e.message).toMatch(/^spawnGuest qemu: execve failed: ENOENT \(no such file or directory\): /);
  });

  it('names the step, errno and syscall like a SystemError', () => {
    const e = at('setgroups', 1);
    expect(e).toMatchObject({
      name: 'SpawnGuestError',
      code: 'EPERM',
      errno: -1,
      step: 'setgroups',
      syscall: 'setgroups',
      spawnargs: ctx.spawnargs,
    });
    expect(e.message).toMatch(/^spawnGuest qemu: setgroups failed: EPERM \(operation not permitted\): .*CAP_SETGID/);
  });

  it('says which capability of this process a step refused with EPERM needs', () => {
    // setgroups(2), setresgid(2), setresuid(2), prctl(2) PR_CAPBSET_DROP and PR_SET_SECUREBITS,
    // setns(2), prlimit(2) above the hard limit, proc(5) oom_score_adj lowered, setpriority(2) lowered.
    const needs: [StepName, string][] = [
      ['setgroups', 'CAP_SETGID'],
      ['setresgid', 'CAP_SETGID'],
      ['setresuid', 'CAP_SETUID'],
      ['capbset_drop', 'CAP_SETPCAP'],
      ['securebits', 'CAP_SETPCAP'],
      ['setns', 'CAP_SYS_ADMIN'],
      ['prlimit', 'CAP_SYS_RESOURCE'],
      ['oom_score_adj', 'CAP_SYS_RESOURCE'],
      ['setpriority', 'CAP_SYS_NICE'],
    ];
    for (const [step, cap] of needs) expect(at(step, 1).message).toContain(`this process needs ${cap} in its effective set`);
    expect(at('chdir', 1).message).not.toMatch(/needs CAP_/);
  });

  it('names the capability an ambient raise refused and points at securebits', () => {
    const e = at('ambient_raise', 1, 12);
    expect(e).toMatchObject({ step: 'ambient_raise', syscall: 'prctl', capability: 'CAP_NET_ADMIN' });
    expect(e.message).toMatch(/CAP_NET_ADMIN.*SECBIT_NO_CAP_AMBIENT_RAISE/);
  });

  it('gives the candidate path of an execve failure', () => {
    expect(at('execve', 13, 1)).toMatchObject({
      code: 'EACCES',
      path: '/usr/bin/qemu',
      message: expect.stringMatching(/not executable by uid 1000/),
    });
    expect(at('execve', 2, 1).message).toMatch(/"qemu" was not found in the guest's PATH/);
    expect(at('execve', 8, 0).message).toMatch(/never retries through \/bin\/sh/);
  });

  it("blames the guest's rlimits.nofile, not this process, for EMFILE after prlimit", () => {
    const limited = launchFailure({ step: 'oom_score_adj', errno: 24, detail: 0, signal: 0 }, { ...ctx, nofile: 10n });
    expect(limited.message).toMatch(/the guest's rlimits\.nofile \(10\) left the child no free descriptor number for step oom_score_adj/);
    expect(limited.message).not.toMatch(/this process is out of file descriptors/);
    expect(at('oom_score_adj', 24).message).toMatch(/this process is out of file descriptors/);
    expect(at('execve', 23).message).toMatch(/system-wide limit on open files/);
  });

  it('names the resource limit a prlimit failure was setting', () => {
    expect(at('prlimit', 1, 7)).toMatchObject({ code: 'EPERM', option: 'rlimits.nofile' });
    expect(at('prlimit', 1, 99)).toMatchObject({ option: 'rlimits.99' });
  });

  it('reports a verify mismatch without an errno', () => {
    const e = at('verify', 0, 4);
    expect(e).toMatchObject({ code: 'ERR_CAPSPAWN_VERIFY', mismatch: 'ambient' });
    expect(e.errno).toBeUndefined();
  });

  it('reports a child killed before execve, with the step it was at', () => {
    expect(at('verify', 0, 0, 9)).toMatchObject({
      code: 'ERR_CAPSPAWN_CHILD_KILLED',
      signal: 'SIGKILL',
      step: 'verify',
      message: expect.stringMatching(/killed by SIGKILL/),
    });
  });

  it('says where a directory was refused', () => {
    expect(at('chdir', 13)).toMatchObject({ path: '/srv/guest', message: expect.stringMatching(/uid 1000 cannot enter \/srv\/guest/) });
  });

  it('names the stdio slot of a bad descriptor', () => {
    expect(at('fcntl', 9, 2)).toMatchObject({ code: 'EBADF', option: 'stdio[2]' });
  });
});

describe('preparationFailure', () => {
  it('turns a system error met while checking options into a SpawnGuestError at step resolve', () => {
    let systemError: unknown;
    try {
      readFileSync('/nonexistent/capspawn/limits');
    } catch (error) {
      systemError = error;
    }
    const failure = preparationFailure(systemError, ['/bin/true']);
    expect(failure).toBeInstanceOf(SpawnGuestError);
    expect(failure).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      step: 'resolve',
      syscall: 'open',
      path: '/nonexistent/capspawn/limits',
      spawnargs: ['/bin/true'],
    });
    expect((failure as Error).message).toBe(
      'spawnGuest: open /nonexistent/capspawn/limits failed: ENOENT (no such file or directory): capspawn could not read what it checks the options against',
    );
    expect((failure as Error).cause).toBe(systemError);
  });

  it('leaves option errors and SpawnGuestErrors as they are', () => {
    const typeError = Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_TYPE' });
    expect(preparationFailure(typeError, [])).toBe(typeError);
    const spawnError = new SpawnGuestError('x', { code: 'EMFILE', errno: -24, step: 'resolve', syscall: 'getpwnam_r' }, []);
    expect(preparationFailure(spawnError, [])).toBe(spawnError);
  });
});
