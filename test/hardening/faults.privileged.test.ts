// Faults: each child step made to fail for a real reason (a user namespace that does not map
// the id, a daemon without the capability, a directory the guest may not search, a process
// limit reached...). Each rejects with its step and errno and leaves no child, no zombie, no
// extra fd, and every thread of this process with the credentials it had.
// test/fail-closed.privileged.test.ts covers the simpler cases (missing CAP_SETGID/SETUID,
// bounding set, SECBIT_NO_CAP_AMBIENT_RAISE, ENOENT, no x bit, ENOEXEC, missing interpreter).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnGuest, type Guest, type SpawnGuestOptions } from '../../lib/index.js';
import { childrenOf, FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, openFds, uidOf } from '../support/fixtures.js';
import { daemonScript, inspectPath, runDaemon, runOutOfFds, type DaemonResult } from '../support/guests.js';

const user = FIXTURE_USERS.guest.name;
const other = FIXTURE_USERS.second.name;

/** The credential lines of every thread of this process (libuv's pool threads included). */
function threadCredentials(): string[] {
  return readdirSync('/proc/self/task')
    .map((tid) => {
      try {
        const status = readFileSync(`/proc/self/task/${tid}/status`, 'latin1');
        return status
          .split('\n')
          .filter((line) => /^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):/.test(line))
          .join('|');
      } catch {
        return undefined; // the thread ended while we looked
      }
    })
    .filter((line): line is string => line !== undefined);
}

/**
 * Runs test/support/daemon.mjs with `job` as root in a new user namespace whose uid and gid
 * maps cover 0-65535 only, so ids above are unmapped there (setresuid/setresgid: EINVAL).
 */
async function runInUserNamespace(job: unknown, setgroups: 'allow' | 'deny' = 'allow'): Promise<DaemonResult> {
  const child = spawn(
    'unshare',
    ['--user', '--', '/bin/sh', '-c', 'echo ready; read go; exec "$@"', 'sh', process.execPath, daemonScript, JSON.stringify(job)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!out.includes('ready\n')) await once(child.stdout, 'data');
  writeFileSync(`/proc/${child.pid}/uid_map`, '0 0 65536\n');
  writeFileSync(`/proc/${child.pid}/setgroups`, setgroups);
  writeFileSync(`/proc/${child.pid}/gid_map`, '0 0 65536\n');
  child.stdin.end('go\n');
  await once(child, 'close');
  return JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as DaemonResult;
}

describe.runIf(isRoot)(`child steps failing for real reasons (${notRootReason})`, () => {
  let dir = '';
  let fdsBefore: number[] = [];
  let credentialsBefore: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-faults-'));
    chmodSync(dir, 0o755);
    // A directory of the other user that only it may enter.
    mkdirSync(join(dir, 'private'), { mode: 0o700 });
    chownSync(join(dir, 'private'), uidOf(other), gidOf(FIXTURE_GROUPS.other));
    // An executable the guest could run, inside a directory it may not search.
    mkdirSync(join(dir, 'locked'), { mode: 0o700 });
    copyFileSync('/bin/true', join(dir, 'locked', 'true'));
    chmodSync(join(dir, 'locked', 'true'), 0o755);
    writeFileSync(join(dir, 'plain-file'), 'not a directory\n');
    copyFileSync('/bin/true', join(dir, 'busy'));
    chmodSync(join(dir, 'busy'), 0o755);
    writeFileSync(join(dir, 'empty'), '', { mode: 0o755 });
    writeFileSync(join(dir, 'bad-interpreter'), `#!${join(dir, 'plain-file')}\n`, { mode: 0o755 });
    symlinkSync('loop-b', join(dir, 'loop-a'));
    symlinkSync('loop-a', join(dir, 'loop-b'));
    // PATH search: the first directory has a non-executable `tool`, the second none at all.
    mkdirSync(join(dir, 'bin1'), { mode: 0o755 });
    mkdirSync(join(dir, 'bin2'), { mode: 0o755 });
    writeFileSync(join(dir, 'bin1', 'tool'), '#!/bin/sh\n', { mode: 0o644 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    fdsBefore = openFds();
    credentialsBefore = threadCredentials();
  });
  afterEach(() => {
    expect(childrenOf()).toEqual([]);
    expect(openFds()).toEqual(fdsBefore);
    // Threads may have come and gone; every one of them has the credentials all had before.
    for (const line of threadCredentials()) expect(credentialsBefore).toContain(line);
  });

  const fails = (file: string, options: Partial<SpawnGuestOptions>, expected: Record<string, unknown>) =>
    expect(spawnGuest(file, [], { user, stdio: 'pipe', ...options })).rejects.toMatchObject({ name: 'SpawnGuestError', ...expected });

  it("chdir: EACCES for another user's 0700 directory", async () => {
    await fails(
      '/bin/true',
      { cwd: join(dir, 'private') },
      { code: 'EACCES', errno: -13, step: 'chdir', syscall: 'chdir', path: join(dir, 'private') },
    );
  });

  it('chdir: EACCES for a directory below one the guest may not search', async () => {
    await fails('/bin/true', { cwd: join(dir, 'private', 'below') }, { code: 'EACCES', step: 'chdir' });
  });

  it('chdir: ENOENT for a missing directory and ENOTDIR for a file', async () => {
    await fails('/bin/true', { cwd: join(dir, 'missing') }, { code: 'ENOENT', errno: -2, step: 'chdir', path: join(dir, 'missing') });
    await fails('/bin/true', { cwd: join(dir, 'plain-file') }, { code: 'ENOTDIR', errno: -20, step: 'chdir' });
  });

  it('execve: EACCES for a program in a directory the guest may not search (root could)', async () => {
    await fails(join(dir, 'locked', 'true'), {}, { code: 'EACCES', errno: -13, step: 'execve', path: join(dir, 'locked', 'true') });
  });

  it('execve: EACCES for a directory given as the program', async () => {
    await fails(dir, {}, { code: 'EACCES', step: 'execve', path: dir });
  });

  it('execve: ETXTBSY for a program this process holds open for writing', async () => {
    const fd = openSync(join(dir, 'busy'), 'r+');
    try {
      await fails(join(dir, 'busy'), {}, { code: 'ETXTBSY', errno: -26, step: 'execve', path: join(dir, 'busy') });
    } finally {
      closeSync(fd);
    }
  });

  it('execve: ENOEXEC for an empty executable file, with no /bin/sh retry', async () => {
    await fails(join(dir, 'empty'), {}, { code: 'ENOEXEC', errno: -8, step: 'execve' });
  });

  it('execve: EACCES for a script whose interpreter is not executable', async () => {
    await fails(join(dir, 'bad-interpreter'), {}, { code: 'EACCES', step: 'execve', path: join(dir, 'bad-interpreter') });
  });

  it('execve: ELOOP for a symbolic link loop', async () => {
    await fails(join(dir, 'loop-a'), {}, { code: 'ELOOP', errno: -40, step: 'execve' });
  });

  it('execve: a PATH search remembers EACCES from an earlier directory over a later ENOENT', async () => {
    const env = { PATH: `${join(dir, 'bin1')}:${join(dir, 'bin2')}` };
    await fails('tool', { env }, { code: 'EACCES', step: 'execve', path: join(dir, 'bin1', 'tool') });
  });

  it('execve: EAGAIN once the target user has RLIMIT_NPROC processes, not before', async () => {
    // The kernel counts the target uid's processes at setresuid and fails execve (fs/exec.c,
    // PF_NPROC_EXCEEDED); root's own CAP_SYS_RESOURCE does not carry into the guest.
    const sleepers: Guest[] = [];
    const job = { file: '/bin/true', options: { user: other } };
    try {
      sleepers.push(await spawnGuest(inspectPath(), ['sleep', '60'], { user: other, stdio: 'ignore' }));
      const atLimit = await runDaemon(['prlimit', '--nproc=1:1'], job);
      expect(atLimit).toMatchObject({ ok: true, code: 0, children: 0 });
      sleepers.push(await spawnGuest(inspectPath(), ['sleep', '60'], { user: other, stdio: 'ignore' }));
      const overLimit = await runDaemon(['prlimit', '--nproc=1:1'], job);
      expect(overLimit).toMatchObject({
        ok: false,
        children: 0,
        error: { name: 'SpawnGuestError', code: 'EAGAIN', errno: -11, step: 'execve' },
      });
    } finally {
      for (const guest of sleepers) guest.kill('SIGKILL');
      await Promise.all(sleepers.map((guest) => guest.exited));
    }
  });

  it("execve: EAGAIN from the guest's own rlimits option (nproc 0 with a process of the user running)", async () => {
    const sleeper = await spawnGuest(inspectPath(), ['sleep', '60'], { user: other, stdio: 'ignore' });
    try {
      await fails('/bin/true', { user: other, rlimits: { nproc: 0 } }, { code: 'EAGAIN', step: 'execve' });
    } finally {
      sleeper.kill('SIGKILL');
      await sleeper.exited;
    }
  });
});

describe.runIf(isRoot)(`a daemon where the kernel refuses a credential step (${notRootReason})`, () => {
  const job = (options: object) => ({ file: '/bin/true', options: { user, ...options } });

  it('setresgid: EINVAL for a gid the user namespace does not map (setgroups succeeded)', async () => {
    const result = await runInUserNamespace(job({ primaryGroup: 100_000, supplementaryGroups: [] }));
    expect(result).toMatchObject({
      ok: false,
      children: 0,
      error: { name: 'SpawnGuestError', code: 'EINVAL', errno: -22, step: 'setresgid', syscall: 'setresgid' },
    });
  });

  it('setresuid: EINVAL for a uid the user namespace does not map (the gids succeeded)', async () => {
    const result = await runInUserNamespace(job({ user: 100_000, primaryGroup: FIXTURE_GROUPS.primary, supplementaryGroups: [] }));
    expect(result).toMatchObject({
      ok: false,
      children: 0,
      error: { code: 'EINVAL', errno: -22, step: 'setresuid', syscall: 'setresuid' },
    });
  });

  it('setgroups: EINVAL for a supplementary gid the namespace does not map', async () => {
    const result = await runInUserNamespace(job({ supplementaryGroups: [100_000] }));
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EINVAL', step: 'setgroups' } });
  });

  it("setgroups: EPERM where the namespace's setgroups is deny", async () => {
    const result = await runInUserNamespace(job({}), 'deny');
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', errno: -1, step: 'setgroups' } });
  });

  it('the same launch succeeds in that namespace with mapped ids (control)', async () => {
    const result = await runInUserNamespace({ file: '/bin/grep', args: ['^Uid:', '/proc/self/status'], options: { user } });
    expect(result).toMatchObject({ ok: true, code: 0, children: 0 });
    if (result.ok) expect(result.stdout.trim()).toBe(`Uid:\t${uidOf(user)}\t${uidOf(user)}\t${uidOf(user)}\t${uidOf(user)}`);
  });

  it("capset: EPERM for a capability outside a non-root daemon's permitted set, saying so", async () => {
    const caps = '+setuid,+setgid,+setpcap';
    const result = await runDaemon(
      ['setpriv', '--reuid', other, '--regid', FIXTURE_GROUPS.other, '--clear-groups', '--inh-caps', caps, '--ambient-caps', caps],
      job({ caps: ['net_raw'] }),
    );
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', errno: -1, step: 'capset' } });
    if (!result.ok) expect(result.error.message).toMatch(/CAP_NET_RAW is not in this process's permitted set/);
  });

  it('parent side: running out of fds is a typed error at each parent step, never a crash', async () => {
    // The daemon uses up RLIMIT_NOFILE, then frees one fd at a time and tries again: each
    // attempt fails at the next step that needs an fd, until there are enough. (It starts with
    // one fd free; with none, the lookup fails first: test/hardening/regressions.privileged.test.ts.)
    const result = await runOutOfFds({
      file: '/bin/true',
      fromFree: 1,
      free: 14,
      options: { user, stdio: ['ignore', 'pipe', 'inherit', 'pipe'] },
    });
    expect(result).toMatchObject({ ok: true, children: 0 });
    const failures = result.attempts.filter((a) => !a.ok);
    for (const failure of failures) {
      expect(failure.error).toMatchObject({ name: 'SpawnGuestError', code: 'EMFILE', errno: -24 });
      expect(failure.fdsUnchanged).toBe(true);
    }
    // Every parent step that takes an fd was reached, in the order the launch takes them. (The
    // caller's descriptors are copied first, with the one fd free; fcntl fails only with none
    // free, which the NSS lookup before it reports as resolve EMFILE: test/hardening/regressions.privileged.test.ts.)
    const steps = [...new Set(failures.map((f) => f.error?.step))];
    expect(steps).toEqual(['fcntl', 'pipe2', 'open', 'socketpair', 'clone'].filter((s) => steps.includes(s)));
    expect(steps).toEqual(expect.arrayContaining(['pipe2', 'open', 'socketpair', 'clone']));
    // With enough fds free, the launch works again.
    expect(result.attempts.at(-1)).toMatchObject({ ok: true, code: 0 });
  });
});
