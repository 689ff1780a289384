// Paths are the kernel's to resolve, as the guest: `file`, `cwd` and every PATH candidate go to
// execve and chdir as given, so search permission and symlinks are checked as the target user,
// exactly as child_process.spawn does. Nothing collapses a `..` as text.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planGuest, spawnGuest } from '../lib/index.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { runDaemon, runGuest } from './support/guests.js';

const user = FIXTURE_USERS.guest.name;

describe.runIf(isRoot)(`paths as the kernel resolves them (${notRootReason})`, () => {
  let dir = '';
  beforeAll(() => {
    // dir/link -> dir/deep/sub, so dir/link/../x is dir/deep/x to the kernel, and dir/x as text.
    dir = mkdtempSync(join(tmpdir(), 'capspawn-paths-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'deep/sub'), { recursive: true, mode: 0o755 });
    symlinkSync(join(dir, 'deep/sub'), join(dir, 'link'));
    writeFileSync(join(dir, 'deep/x'), '#!/bin/sh\necho deep/x\n', { mode: 0o755 });
    writeFileSync(join(dir, 'x'), '#!/bin/sh\necho x\n', { mode: 0o755 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs /root/../usr/bin/id only if the guest may search /root: EACCES for a guest', async () => {
    await expect(spawnGuest('/root/../usr/bin/id', [], { user, stdio: 'ignore' })).rejects.toMatchObject({
      name: 'SpawnGuestError',
      code: 'EACCES',
      step: 'execve',
      path: '/root/../usr/bin/id',
    });
    expect(childrenOf()).toEqual([]);
  });

  it("refuses cwd '/root/../tmp' for a guest that may not search /root: chdir EACCES", async () => {
    await expect(spawnGuest('/bin/true', [], { user, cwd: '/root/../tmp', stdio: 'ignore' })).rejects.toMatchObject({
      code: 'EACCES',
      step: 'chdir',
      path: '/root/../tmp',
    });
  });

  it('checks each PATH directory as given: /root/../usr/bin in PATH is EACCES, not /usr/bin', async () => {
    await expect(spawnGuest('id', [], { user, env: { PATH: '/root/../usr/bin' }, stdio: 'ignore' })).rejects.toMatchObject({
      code: 'EACCES',
      step: 'execve',
      path: '/root/../usr/bin/id',
    });
  });

  it('follows a symlink before "..": dir/link/../x runs the x beside the link\'s target', async () => {
    // Template strings, not path.join: join would collapse the ".." itself.
    const out = await runGuest(`${dir}/link/../x`, [], { user });
    expect(out).toMatchObject({ code: 0, stdout: 'deep/x\n' });
    const cwdOut = await runGuest('/bin/sh', ['-c', 'pwd -P'], { user, cwd: `${dir}/link/..` });
    expect(cwdOut.stdout).toBe(`${join(dir, 'deep')}\n`);
  });

  it('joins a relative file and cwd to the working directories without normalising them', async () => {
    const plan = await planGuest('./link/../x', { user, cwd: dir });
    expect(plan.candidates).toEqual([`${dir}/./link/../x`]);
    expect((await runGuest('./link/../x', [], { user, cwd: dir })).stdout).toBe('deep/x\n');
    expect((await planGuest('/bin/true', { user, cwd: 'a/../b' })).cwd).toBe(`${process.cwd()}/a/../b`);
  });

  it('launches an absolute program with no cwd from a daemon whose working directory was deleted', async () => {
    const ok = await runDaemon([], { file: '/bin/echo', args: ['ran'], options: { user }, removeCwd: true });
    expect(ok).toMatchObject({ ok: true, code: 0, stdout: 'ran\n' });
    // A relative path needs that directory: a typed error that names the option, spawning nothing.
    const relative = await runDaemon([], { file: './x', options: { user }, removeCwd: true });
    expect(relative).toMatchObject({
      ok: false,
      error: { name: 'SpawnGuestError', code: 'ENOENT', step: 'resolve', syscall: 'uv_cwd' },
      children: 0,
    });
    expect(relative.ok === false && relative.error.message).toMatch(/"file" option "\.\/x" is relative.*give an absolute path/);
  });
});
