// Fail-closed: every failure is a typed error naming the step and errno, and leaves no child,
// no zombie and no fd behind.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnGuest, type SpawnGuestOptions } from '../lib/index.js';
import { testHooks } from '../lib/launch-plan.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason, openFds } from './support/fixtures.js';
import { inspectPath, runDaemon } from './support/guests.js';

/** include/uapi/linux/securebits.h */
const SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6;

const user = FIXTURE_USERS.guest.name;

describe.runIf(isRoot)(`fail-closed launches (${notRootReason})`, () => {
  let dir = '';
  let fdsBefore: number[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-fail-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\necho hi\n', { mode: 0o644 });
    writeFileSync(join(dir, 'no-shebang'), 'echo this is not a binary\n', { mode: 0o755 });
    writeFileSync(join(dir, 'missing-interpreter'), '#!/nonexistent/interpreter\n', { mode: 0o755 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    fdsBefore = openFds();
  });
  afterEach(() => {
    // Nothing left behind by a failed launch: no child (running or zombie), no fd.
    expect(childrenOf()).toEqual([]);
    expect(openFds()).toEqual(fdsBefore);
  });

  // toMatchObject does not look at an Error's message (it is not enumerable): checked apart.
  const fails = async (file: string, options: Partial<SpawnGuestOptions>, { message, ...expected }: Record<string, unknown>) => {
    const error = await spawnGuest(file, [], { user, stdio: 'pipe', ...options }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'spawnGuest resolved').toBeInstanceOf(Error);
    expect(error).toMatchObject(expected);
    if (message !== undefined) expect((error as Error).message).toMatch(message as RegExp);
  };

  it('names an unknown user and an unknown group before spawning', async () => {
    await fails(
      '/bin/true',
      { user: 'capspawn-no-such-user' },
      { name: 'SpawnGuestError', code: 'ERR_CAPSPAWN_UNKNOWN_USER', step: 'resolve', option: 'user' },
    );
    await fails(
      '/bin/true',
      { supplementaryGroups: ['capspawn-no-such-group'] },
      { code: 'ERR_CAPSPAWN_UNKNOWN_GROUP', option: 'supplementaryGroups[0]' },
    );
  });

  it('refuses uid 0 without allowRoot', async () => {
    await fails('/bin/true', { user: 'root' }, { name: 'RangeError', code: 'ERR_CAPSPAWN_ROOT_TARGET', option: 'user' });
  });

  it('reports a missing program as execve ENOENT, with the path', async () => {
    await fails(
      join(dir, 'nothing-here'),
      {},
      { code: 'ENOENT', errno: -2, step: 'execve', syscall: 'execve', path: join(dir, 'nothing-here') },
    );
    await fails('capspawn-no-such-program', {}, { code: 'ENOENT', step: 'execve', message: /not found in the guest's PATH/ });
  });

  it('says a directory given as the program is a directory, not that its x bit is missing', async () => {
    await fails(dir, {}, { code: 'EACCES', step: 'execve', path: dir, message: /is a directory, not a program$/ });
  });

  it('cuts a long program path and cwd in the message, keeping them whole in path', async () => {
    const long = join(dir, 'd'.repeat(200), 'program');
    const error = (await spawnGuest(long, [], { user }).catch((e: unknown) => e)) as Error & { path: string };
    expect(error).toMatchObject({ code: 'ENOENT', step: 'execve', path: long });
    expect(error.message).not.toContain(long);
    expect(error.message).toContain(`${long.slice(0, 128)}...`);
    const cwd = join(dir, 'c'.repeat(300));
    const chdir = (await spawnGuest('/bin/true', [], { user, cwd }).catch((e: unknown) => e)) as Error & { path: string };
    expect(chdir).toMatchObject({ step: 'chdir', path: cwd });
    expect(chdir.message.length).toBeLessThan(700);
  });

  it('explains execve EPERM for a file-capability program whose capabilities the bounding set lacks', async () => {
    const program = join(dir, 'fcaps-true');
    copyFileSync('/bin/true', program);
    chmodSync(program, 0o755);
    execFileSync('setcap', ['cap_net_raw+ep', program]);
    await fails(
      program,
      { allowPrivilegedPrograms: true, limitBoundingSet: true },
      { code: 'EPERM', step: 'execve', message: /not all in the guest's bounding set \(limitBoundingSet drops them\)/ },
    );
  });

  it('blames args, not options, for a string where the argument array belongs', async () => {
    await expect(spawnGuest('/usr/bin/echo', 'abc' as unknown as string[], { user })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
      option: 'args',
    });
  });

  it('cuts a huge user name in the message, as Node cuts long values', async () => {
    const error = (await spawnGuest('/bin/true', [], { user: 'u'.repeat(1 << 20) }).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'ERR_CAPSPAWN_UNKNOWN_USER' });
    expect(error.message.length).toBeLessThan(400);
  });

  it('reports a file without the x bit as execve EACCES', async () => {
    await fails(join(dir, 'not-executable'), {}, { code: 'EACCES', errno: -13, step: 'execve', path: join(dir, 'not-executable') });
  });

  it('reports a file the kernel cannot run as ENOEXEC, never falling back to /bin/sh', async () => {
    await fails(join(dir, 'no-shebang'), {}, { code: 'ENOEXEC', errno: -8, step: 'execve' });
  });

  it('reports a script whose interpreter is missing as ENOENT', async () => {
    await fails(join(dir, 'missing-interpreter'), {}, { code: 'ENOENT', step: 'execve', path: join(dir, 'missing-interpreter') });
  });

  it('reports a working directory the target cannot enter as chdir EACCES', async () => {
    await fails('/bin/true', { cwd: '/root' }, { code: 'EACCES', step: 'chdir', path: '/root' });
  });

  it('reports a bad stdio descriptor as a typed error', async () => {
    await fails('/bin/true', { stdio: ['ignore', 987, 'ignore'] }, { code: 'EBADF', step: 'fcntl', option: 'stdio[1]' });
  });

  it('reports a child killed before execve as a failure, not a success', async () => {
    testHooks.signalBeforeVerify = 9;
    try {
      await fails('/bin/true', {}, { code: 'ERR_CAPSPAWN_CHILD_KILLED', signal: 'SIGKILL', step: 'verify' });
    } finally {
      testHooks.signalBeforeVerify = 0;
    }
  });

  it("keeps the caller's stack in the error", async () => {
    const error: unknown = await spawnGuest('/nonexistent', { user }).catch((e: unknown) => e);
    expect((error as Error).stack).toMatch(/fail-closed\.privileged\.test\.ts/);
  });
});

describe.runIf(isRoot)(`a daemon with fewer privileges (${notRootReason})`, () => {
  const job = (options: object) => ({
    file: '/bin/grep',
    args: ['-E', '^(Uid|Groups|Cap(Inh|Prm|Eff|Amb)):', '/proc/self/status'],
    options: { user, ...options },
  });

  it('works as a non-root daemon holding only SETUID, SETGID, SETPCAP and NET_ADMIN', async () => {
    const caps = '+setuid,+setgid,+setpcap,+net_admin';
    const result = await runDaemon(
      [
        'setpriv',
        '--reuid',
        FIXTURE_USERS.second.name,
        '--regid',
        FIXTURE_USERS.second.primary,
        '--clear-groups',
        '--inh-caps',
        caps,
        '--ambient-caps',
        caps,
        '--bounding-set',
        `-all,${caps}`,
      ],
      job({ caps: ['net_admin'], supplementaryGroups: ['capspawn-extra'] }),
    );
    expect(result).toMatchObject({ ok: true, code: 0, children: 0 });
    if (!result.ok) return;
    expect(result.stdout).toMatch(/^CapAmb:\t0000000000001000$/m);
    expect(result.stdout).toMatch(/^CapEff:\t0000000000001000$/m);
  });

  it("fails at capset when the capability is not in the daemon's bounding set", async () => {
    const result = await runDaemon(['setpriv', '--bounding-set', '-net_admin'], job({ caps: ['net_admin'] }));
    expect(result).toMatchObject({ ok: false, children: 0, error: { name: 'SpawnGuestError', code: 'EPERM', step: 'capset' } });
    if (!result.ok) expect(result.error.message).toMatch(/CAP_NET_ADMIN is not in this process's bounding set/);
  });

  it('fails at the ambient raise under SECBIT_NO_CAP_AMBIENT_RAISE, naming the capability', async () => {
    const result = await runDaemon([inspectPath(), 'securebits', String(SECBIT_NO_CAP_AMBIENT_RAISE)], job({ caps: ['net_admin'] }));
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', step: 'ambient_raise', capability: 'CAP_NET_ADMIN' } });
  });

  it('fails at setgroups without CAP_SETGID', async () => {
    const result = await runDaemon(['setpriv', '--bounding-set', '-setgid'], job({}));
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', step: 'setgroups', syscall: 'setgroups' } });
  });

  it('fails at setresuid without CAP_SETUID', async () => {
    const result = await runDaemon(['setpriv', '--bounding-set', '-setuid'], job({}));
    expect(result).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', step: 'setresuid' } });
  });

  it('launches the same through the fork fallback where CLONE_VM does not share memory', async () => {
    const result = await runDaemon([], job({ caps: ['net_admin'] }), { ...process.env, CAPSPAWN_CLONE_MODE: 'fork' });
    expect(result).toMatchObject({ ok: true, code: 0, cloneSharesMemory: false });
    if (result.ok) expect(result.stdout).toMatch(/^CapAmb:\t0000000000001000$/m);
    const failed = await runDaemon(['setpriv', '--bounding-set', '-net_admin'], job({ caps: ['net_admin'] }), {
      ...process.env,
      CAPSPAWN_CLONE_MODE: 'fork',
    });
    expect(failed).toMatchObject({ ok: false, children: 0, error: { code: 'EPERM', step: 'capset' } });
  });
});
