import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { capabilityNumber } from '../../capabilities.js';

/** Who would open a file: the guest's ids, groups and capabilities. */
export interface AccessIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
  caps: readonly number[];
}

/** The permission bits of one class (owner, group or other). */
export const READ = 4;
export const WRITE = 2;
export const EXECUTE = 1;

const DAC_OVERRIDE = capabilityNumber('dac_override');
const DAC_READ_SEARCH = capabilityNumber('dac_read_search');

/**
 * Whether the mode bits grant `want` to `who`, as generic_permission() in fs/namei.c decides:
 * exactly one class applies (the owner's bits even when the group's would grant more), then
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH as capabilities(7) describes them. ACLs and
 * security modules are not consulted.
 */
export function modeGrants(stats: Stats, who: AccessIdentity, want: number): boolean {
  const shift = stats.uid === who.uid ? 6 : stats.gid === who.gid || who.groups.includes(stats.gid) ? 3 : 0;
  if (((stats.mode >> shift) & 7 & want) === want) return true;
  const directory = stats.isDirectory();
  if (who.caps.includes(DAC_OVERRIDE) && (!(want & EXECUTE) || directory || (stats.mode & 0o111) !== 0)) return true;
  return who.caps.includes(DAC_READ_SEARCH) && !(want & WRITE) && (directory || !(want & EXECUTE));
}

export type AccessResult =
  { ok: true; stats: Stats } | { ok: false; code: 'ENOENT' } | { ok: false; code: 'EACCES'; blockedAt: string; stats: Stats };

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** How many symlinks one lookup may follow before the kernel says ELOOP (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Whether `who` can reach `path` and use it as `want`, walked as the kernel's path lookup
 * walks it (fs/namei.c): every component, `.` and `..` included, needs search (x) on the
 * directory it is looked up in; a symlink is followed where it stands, its target walked the
 * same way; `..` leads to the parent of the directory actually reached. `/root/../tmp` so
 * needs search on /root, as it does for the guest. A relative path starts at this process's
 * working directory.
 */
export function checkAccess(path: string, who: AccessIdentity, want: number): AccessResult {
  let dir = path.startsWith('/') ? '/' : process.cwd();
  const rest = path.split('/').filter(Boolean);
  let links = 0;
  while (rest.length > 0) {
    const name = rest.shift() as string;
    const stats = statOrNull(dir);
    if (!stats?.isDirectory()) return { ok: false, code: 'ENOENT' };
    if (!modeGrants(stats, who, EXECUTE)) return { ok: false, code: 'EACCES', blockedAt: dir, stats };
    if (name === '.') continue;
    if (name === '..') {
      dir = dir === '/' ? '/' : dir.slice(0, dir.lastIndexOf('/')) || '/';
      continue;
    }
    const next = dir === '/' ? `/${name}` : `${dir}/${name}`;
    const own = lstatOrNull(next);
    if (!own) return { ok: false, code: 'ENOENT' };
    if (own.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { ok: false, code: 'ENOENT' };
      const target = readlinkSync(next);
      rest.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) dir = '/';
      continue;
    }
    dir = next;
  }
  const stats = statOrNull(dir);
  if (!stats) return { ok: false, code: 'ENOENT' };
  return modeGrants(stats, who, want) ? { ok: true, stats } : { ok: false, code: 'EACCES', blockedAt: dir, stats };
}

/** `0660 root:kvm`, for messages about a file's permissions. */
export function describeMode(stats: Stats, userName: string, groupName: string): string {
  return `mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')} ${userName}:${groupName}`;
}
