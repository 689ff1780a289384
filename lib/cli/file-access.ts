import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { parseCapability } from '../capabilities.js';

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

const DAC_OVERRIDE = parseCapability('dac_override');
const DAC_READ_SEARCH = parseCapability('dac_read_search');

/**
 * Whether the mode bits grant `want` to `who`, as generic_permission() in fs/namei.c decides:
 * exactly one class applies (the owner's bits even when the group's would grant more), then
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH as capabilities(7) describes them. ACLs and
 * security modules are not consulted.
 */
export function modeGrants(stats: Stats, who: AccessIdentity, want: number): boolean {
  const shift = stats.uid === who.uid ? 6 : stats.gid === who.gid || who.groups.includes(stats.gid) ? 3 : 0;
  if ((((stats.mode >> shift) & 7) & want) === want) return true;
  const directory = stats.isDirectory();
  if (who.caps.includes(DAC_OVERRIDE) && (!(want & EXECUTE) || directory || (stats.mode & 0o111) !== 0)) return true;
  return who.caps.includes(DAC_READ_SEARCH) && !(want & WRITE) && (directory || !(want & EXECUTE));
}

export type AccessResult =
  | { ok: true; stats: Stats }
  | { ok: false; code: 'ENOENT' }
  | { ok: false; code: 'EACCES'; blockedAt: string; stats: Stats };

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Whether `who` can reach `path` (search on every directory above it) and use it as `want`. */
export function checkAccess(path: string, who: AccessIdentity, want: number): AccessResult {
  const absolute = resolve(path);
  const parts = absolute.split('/').filter(Boolean);
  for (let depth = 0; depth < parts.length; depth++) {
    const dir = `/${parts.slice(0, depth).join('/')}`;
    const stats = statOrNull(dir);
    if (!stats?.isDirectory()) return { ok: false, code: 'ENOENT' };
    if (!modeGrants(stats, who, EXECUTE)) return { ok: false, code: 'EACCES', blockedAt: dir, stats };
  }
  const stats = statOrNull(absolute);
  if (!stats) return { ok: false, code: 'ENOENT' };
  return modeGrants(stats, who, want) ? { ok: true, stats } : { ok: false, code: 'EACCES', blockedAt: absolute, stats };
}

/** `0660 root:kvm`, for messages about a file's permissions. */
export function describeMode(stats: Stats, userName: string, groupName: string): string {
  return `mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')} ${userName}:${groupName}`;
}
