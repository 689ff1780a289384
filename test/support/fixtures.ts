// Users and groups the privileged tests spawn as; global-setup.ts creates them as root.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

export const isRoot = process.getuid?.() === 0;
/** Why privileged tests skip; they never skip in CI (CAPSPAWN_REQUIRE_PRIVILEGED=1). */
export const notRootReason = 'privileged: needs root to spawn as other users';

export const FIXTURE_GROUPS = {
  primary: 'capspawn-primary',
  extra: 'capspawn-extra',
  net: 'capspawn-net',
  other: 'capspawn-other',
} as const;

export const FIXTURE_USERS = {
  guest: { name: 'capspawn-guest', primary: FIXTURE_GROUPS.primary, extra: [FIXTURE_GROUPS.extra] },
  second: { name: 'capspawn-guest2', primary: FIXTURE_GROUPS.other, extra: [] as string[] },
} as const;

/** getent, for expected values computed independently of capspawn. */
export function getent(db: 'passwd' | 'group', name: string): string[] {
  return execFileSync('getent', [db, name], { encoding: 'utf8' }).trim().split(':');
}

export function uidOf(user: string): number {
  return Number(getent('passwd', user)[2]);
}

export function gidOf(group: string): number {
  return Number(getent('group', group)[2]);
}

export { alive, childrenOf, processState } from './children.mjs';

/** This process's open fds. */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}
