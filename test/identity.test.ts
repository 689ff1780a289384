import { describe, expect, it } from 'vitest';
import { resolveIdentity } from '../lib/identity.js';
import { fakeNss } from './support/fake-nss.js';

const resolve = (request: Parameters<typeof resolveIdentity>[0]) => resolveIdentity(request, fakeNss, ['x'], 65536);

describe('resolveIdentity', () => {
  it("defaults to the user's passwd group and its NSS groups, sorted", async () => {
    expect(await resolve({ user: 'justin', allowRoot: false })).toMatchObject({ uid: 1000, gid: 1000, groups: [104, 990, 1000] });
  });

  it('uses exactly the groups asked for, names and numbers mixed', async () => {
    const id = await resolve({
      user: 'justin',
      primaryGroup: 'cvdnetwork',
      supplementaryGroups: ['cvdnetwork', 'kvm', 4242],
      allowRoot: false,
    });
    expect(id).toMatchObject({ gid: 990, groups: [104, 990, 4242] });
  });

  describe('extraGroups adds, as systemd SupplementaryGroups= does', () => {
    it("to the user's NSS groups, each gid once", async () => {
      const id = await resolve({ user: 'wheelie', extraGroups: ['kvm', 'cvdnetwork', 104], allowRoot: true });
      expect(id.groups).toEqual([0, 104, 990, 1001]);
      expect((await resolve({ user: 'justin', extraGroups: ['kvm', 4242], allowRoot: false })).groups).toEqual([104, 990, 1000, 4242]);
    });

    it('to an explicit supplementaryGroups, and to [] (--clear-groups)', async () => {
      expect(
        (await resolve({ user: 'justin', supplementaryGroups: ['kvm'], extraGroups: ['cvdnetwork', 'kvm'], allowRoot: false })).groups,
      ).toEqual([104, 990]);
      expect((await resolve({ user: 'justin', supplementaryGroups: [], extraGroups: [990], allowRoot: false })).groups).toEqual([990]);
    });

    it('keeps the primary group out unless named, as setgroups and id show it', async () => {
      expect(
        await resolve({ user: 'justin', primaryGroup: 'kvm', supplementaryGroups: [], extraGroups: ['cvdnetwork'], allowRoot: false }),
      ).toMatchObject({ gid: 104, groups: [990] });
      expect(
        await resolve({ user: 'justin', primaryGroup: 'kvm', supplementaryGroups: [], extraGroups: ['kvm'], allowRoot: false }),
      ).toMatchObject({ gid: 104, groups: [104] });
    });

    it('names the entry at fault: an unknown group, gid 0 without allowRoot, too many', async () => {
      await expect(resolve({ user: 'justin', extraGroups: ['kvm', 'nosuch'], allowRoot: false })).rejects.toMatchObject({
        code: 'ERR_CAPSPAWN_UNKNOWN_GROUP',
        option: 'extraGroups[1]',
      });
      await expect(resolve({ user: 'justin', extraGroups: ['kvm', 0], allowRoot: false })).rejects.toMatchObject({
        code: 'ERR_CAPSPAWN_ROOT_TARGET',
        option: 'extraGroups[1]',
      });
      await expect(resolve({ user: 'justin', extraGroups: ['root'], allowRoot: true })).resolves.toMatchObject({
        groups: [0, 104, 990, 1000],
      });
      await expect(resolveIdentity({ user: 'justin', extraGroups: [1, 2, 3], allowRoot: false }, fakeNss, [], 5)).rejects.toMatchObject({
        code: 'ERR_OUT_OF_RANGE',
        option: 'supplementaryGroups',
      });
    });
  });

  it('gives no supplementary group for []', async () => {
    expect((await resolve({ user: 'justin', supplementaryGroups: [], allowRoot: false })).groups).toEqual([]);
  });

  it('accepts a uid without a passwd entry when the primary group is given', async () => {
    expect(await resolve({ user: 4321, primaryGroup: 4321, allowRoot: false })).toEqual({ uid: 4321, gid: 4321, groups: [], user: null });
  });

  it('asks for a primary group when the uid has no passwd entry', async () => {
    await expect(resolve({ user: 4321, allowRoot: false })).rejects.toMatchObject({
      code: 'ERR_CAPSPAWN_NO_PRIMARY_GROUP',
      option: 'primaryGroup',
    });
  });

  it('names the unknown user and group', async () => {
    await expect(resolve({ user: 'nosuch', allowRoot: false })).rejects.toMatchObject({
      name: 'SpawnGuestError',
      code: 'ERR_CAPSPAWN_UNKNOWN_USER',
      step: 'resolve',
      option: 'user',
      spawnargs: ['x'],
    });
    await expect(resolve({ user: 'justin', supplementaryGroups: ['kvm', 'nosuch'], allowRoot: false })).rejects.toMatchObject({
      code: 'ERR_CAPSPAWN_UNKNOWN_GROUP',
      option: 'supplementaryGroups[1]',
    });
    await expect(resolve({ user: 'justin', primaryGroup: 'nosuch', allowRoot: false })).rejects.toMatchObject({ option: 'primaryGroup' });
  });

  it('refuses a group listed twice, by name and by number', async () => {
    await expect(resolve({ user: 'justin', supplementaryGroups: ['kvm', 104], allowRoot: false })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_CAPSPAWN_DUPLICATE_GROUP',
      option: 'supplementaryGroups[1]',
    });
  });

  it('refuses more groups than NGROUPS_MAX', async () => {
    const many = Array.from({ length: 11 }, (_, i) => 5000 + i);
    await expect(resolveIdentity({ user: 'justin', supplementaryGroups: many, allowRoot: false }, fakeNss, [], 10)).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      option: 'supplementaryGroups',
    });
  });

  it('refuses uid 0 without allowRoot', async () => {
    await expect(resolve({ user: 'root', allowRoot: false })).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_CAPSPAWN_ROOT_TARGET',
      option: 'user',
    });
    await expect(resolve({ user: 0, primaryGroup: 0, allowRoot: false })).rejects.toMatchObject({
      code: 'ERR_CAPSPAWN_ROOT_TARGET',
      option: 'user',
    });
    expect((await resolve({ user: 'root', allowRoot: true })).uid).toBe(0);
  });

  it('refuses gid 0 as primary or supplementary group without allowRoot', async () => {
    await expect(resolve({ user: 'justin', primaryGroup: 'root', allowRoot: false })).rejects.toMatchObject({ option: 'primaryGroup' });
    await expect(resolve({ user: 'justin', supplementaryGroups: ['kvm', 0], allowRoot: false })).rejects.toMatchObject({
      code: 'ERR_CAPSPAWN_ROOT_TARGET',
      option: 'supplementaryGroups[1]',
    });
    await expect(resolve({ user: 'wheelie', allowRoot: false })).rejects.toMatchObject({
      option: 'supplementaryGroups',
      message: expect.stringMatching(/from NSS/),
    });
  });

  it('reports an NSS failure with its call and errno', async () => {
    const broken = () => Promise.resolve({ errno: 5, syscall: 'getpwnam_r' });
    await expect(resolveIdentity({ user: 'justin', allowRoot: false }, broken, [], 10)).rejects.toMatchObject({
      code: 'EIO',
      errno: -5,
      step: 'resolve',
      syscall: 'getpwnam_r',
    });
  });
});
