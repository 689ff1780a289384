// Regressions found while hardening: each of these failed before its fix.
import { describe, expect, it } from 'vitest';
import { spawnGuest } from '../../lib/index.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason, openFds } from '../support/fixtures.js';
import { hardeningDaemon, inspectPath, runDaemon, runOutOfFds } from '../support/guests.js';

const user = FIXTURE_USERS.guest.name;

describe.runIf(isRoot)(`hardening regressions (${notRootReason})`, () => {
  it("with fd 0 closed, stdio 'inherit' for slot 0 is EBADF, not capspawn's report pipe", async () => {
    const result = (await runDaemon([process.execPath, hardeningDaemon], {
      scenario: 'closed-stdin',
      file: inspectPath(),
      options: { user, stdio: ['inherit', 'pipe', 'ignore'] },
    })) as unknown as { ok: boolean; stdout?: string; error?: object };
    expect(result).toMatchObject({ ok: false, error: { name: 'SpawnGuestError', code: 'EBADF', step: 'fcntl', option: 'stdio[0]' } });
  });

  it('a closed fd in stdio is EBADF even when it is the lowest free fd number', async () => {
    const open = openFds();
    let free = 3;
    while (open.includes(free)) free++;
    await expect(spawnGuest(inspectPath(), [], { user, stdio: ['pipe', free, 'pipe'] })).rejects.toMatchObject({
      code: 'EBADF',
      step: 'fcntl',
      option: 'stdio[1]',
    });
    expect(childrenOf()).toEqual([]);
  });

  it('an rlimits key inherited from Object.prototype is a typed error', async () => {
    await expect(spawnGuest('/bin/true', [], { user, rlimits: { constructor: 5 } as never })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      option: 'rlimits.constructor',
    });
  });

  it('with no fd free, the user lookup is EMFILE, not "no user named"', async () => {
    const result = await runOutOfFds({
      file: '/bin/true',
      fromFree: 0,
      free: 0,
      options: { user },
    });
    expect(result.attempts[0]?.error).toMatchObject({ name: 'SpawnGuestError', code: 'EMFILE', step: 'resolve' });
  });

  it('with no fd free, reading the limits that rlimits is checked against is a typed EMFILE, not a raw fs error', async () => {
    const result = await runOutOfFds({
      file: '/bin/true',
      args: ['a', 'b'],
      fromFree: 0,
      free: 10,
      options: { user, rlimits: { nofile: [64, 128] } },
    });
    expect(result.attempts[0]).toMatchObject({
      ok: false,
      fdsUnchanged: true,
      error: { name: 'SpawnGuestError', code: 'EMFILE', errno: -24, step: 'resolve', syscall: 'open', spawnargs: ['/bin/true', 'a', 'b'] },
    });
    expect(result.attempts.at(-1)).toMatchObject({ ok: true, code: 0 });
  });

  it("with no fd free at a process's first launch, the error is the lookup's EMFILE, not a binary that cannot be loaded", async () => {
    const result = await runOutOfFds({
      file: '/bin/true',
      fromFree: 0,
      free: 10,
      firstLaunch: true,
      options: { user },
    });
    expect(result.attempts[0]).toMatchObject({
      ok: false,
      fdsUnchanged: true,
      error: { name: 'SpawnGuestError', code: 'EMFILE', step: 'resolve' },
    });
    // Once descriptors are free again, the same process launches.
    expect(result.attempts.at(-1)).toMatchObject({ ok: true, code: 0 });
  });
});
