import { readKernelLimit } from './procfs.js';
import { errnoMessage, errnoName, OptionRangeError, InvalidOptionError, SpawnGuestError, outOfRange, shortText } from './errors.js';
import type { IdSpec } from './options.js';

/** A passwd entry, as NSS returned it. */
export interface UserEntry {
  /** Login name. */
  name: string;
  /** User id. */
  uid: number;
  /** The passwd primary group. */
  gid: number;
  /** Home directory, the guest's HOME. */
  home: string;
  /** Login shell, the guest's SHELL. */
  shell: string;
}

/** A group entry, as NSS returned it. */
export interface GroupEntry {
  name: string;
  gid: number;
}

/** One round of NSS lookups, answered by native/nss.cc on a worker thread. */
export interface ResolveRequest {
  user?: IdSpec;
  groups: IdSpec[];
  /** Also list the user's groups (getgrouplist with its passwd group). */
  userGroups: boolean;
}

export interface ResolveAnswer {
  user?: UserEntry | null;
  groups?: (GroupEntry | null)[];
  userGroups?: number[] | null;
  /** Set when NSS failed for a reason other than "not found". */
  errno?: number;
  syscall?: string;
}

export type Resolver = (request: ResolveRequest) => Promise<ResolveAnswer>;

/** Who a guest runs as, resolved to numbers. */
export interface Identity {
  /** The uid the guest runs as. */
  uid: number;
  /** The primary gid. */
  gid: number;
  /** Supplementary groups, ascending and unique, as the kernel stores them. */
  groups: number[];
  /** The passwd entry of the uid; null when the uid has none. */
  user: UserEntry | null;
}

export interface IdentityRequest {
  user: IdSpec;
  primaryGroup?: IdSpec;
  supplementaryGroups?: IdSpec[];
  extraGroups?: IdSpec[];
  allowRoot: boolean;
}

/** The kernel's NGROUPS_MAX (/proc/sys/kernel/ngroups_max), read once. */
export function ngroupsMax(): number {
  return readKernelLimit('ngroups_max');
}

function lookupError(code: string, option: string, message: string, syscall: string, spawnargs: readonly string[]) {
  return new SpawnGuestError(`spawnGuest: ${message}`, { code, step: 'resolve', syscall, option }, spawnargs);
}

/**
 * Resolves user and group names to ids through NSS and applies the identity rules: unknown
 * names fail, explicit group lists are exact (no duplicates, at most NGROUPS_MAX), and uid 0
 * or gid 0 targets need `allowRoot`.
 */
export async function resolveIdentity(
  request: IdentityRequest,
  resolver: Resolver,
  spawnargs: readonly string[] = [],
  maxGroups = ngroupsMax(),
): Promise<Identity> {
  const { user, primaryGroup, supplementaryGroups, extraGroups, allowRoot } = request;
  // Only names are looked up; numeric gids are used as given.
  const named: { spec: string; option: string }[] = [];
  if (typeof primaryGroup === 'string') named.push({ spec: primaryGroup, option: 'primaryGroup' });
  supplementaryGroups?.forEach((g, i) => {
    if (typeof g === 'string') named.push({ spec: g, option: `supplementaryGroups[${i}]` });
  });
  extraGroups?.forEach((g, i) => {
    if (typeof g === 'string') named.push({ spec: g, option: `extraGroups[${i}]` });
  });

  const answer = await resolver({
    user,
    groups: named.map((n) => n.spec),
    userGroups: supplementaryGroups === undefined,
  });
  if (answer.errno !== undefined) {
    const syscall = answer.syscall ?? 'getpwnam_r';
    const code = errnoName(answer.errno);
    const hint =
      code === 'EMFILE' || code === 'ENFILE'
        ? 'this process is out of file descriptors, so NSS could not read its databases: raise RLIMIT_NOFILE or close descriptors'
        : 'check NSS (/etc/nsswitch.conf and its services)';
    throw new SpawnGuestError(
      `spawnGuest: ${syscall} failed: ${code} (${errnoMessage(answer.errno)}): ${hint}`,
      { code, errno: -answer.errno, step: 'resolve', syscall },
      spawnargs,
    );
  }

  const entry = answer.user ?? null;
  if (entry === null && typeof user === 'string') {
    throw lookupError(
      'ERR_CAPSPAWN_UNKNOWN_USER',
      'user',
      `no user named "${shortText(user)}": check the name, or pass a uid as a number`,
      'getpwnam_r',
      spawnargs,
    );
  }
  const uid = entry?.uid ?? (user as number);

  const gidOf = new Map<string, number>();
  named.forEach((n, i) => {
    const group = answer.groups?.[i] ?? null;
    if (group === null) {
      throw lookupError(
        'ERR_CAPSPAWN_UNKNOWN_GROUP',
        n.option,
        `no group named "${shortText(n.spec)}" (${n.option}): check the name, or pass a gid as a number`,
        'getgrnam_r',
        spawnargs,
      );
    }
    gidOf.set(n.spec, group.gid);
  });
  const toGid = (spec: IdSpec) => (typeof spec === 'number' ? spec : (gidOf.get(spec) as number));

  let gid: number;
  if (primaryGroup !== undefined) gid = toGid(primaryGroup);
  else if (entry !== null) gid = entry.gid;
  else {
    throw new InvalidOptionError(
      'ERR_CAPSPAWN_NO_PRIMARY_GROUP',
      'primaryGroup',
      `uid ${uid} has no passwd entry, so it has no default primary group: pass "primaryGroup"`,
    );
  }

  let groups: number[];
  if (supplementaryGroups !== undefined) {
    groups = supplementaryGroups.map(toGid);
    const seen = new Map<number, number>();
    groups.forEach((g, i) => {
      const first = seen.get(g);
      if (first !== undefined) {
        throw new InvalidOptionError(
          'ERR_CAPSPAWN_DUPLICATE_GROUP',
          `supplementaryGroups[${i}]`,
          `The "supplementaryGroups" option names gid ${g} twice (at ${first} and ${i}); list each group once`,
        );
      }
      seen.set(g, i);
    });
  } else {
    groups = [...new Set(answer.userGroups ?? [])];
  }
  // Added as setgroups(2) would keep them and id(1) show them: each gid once.
  const base = groups;
  const extra = (extraGroups ?? []).map(toGid);
  groups = [...new Set([...base, ...extra])];
  if (groups.length > maxGroups) {
    throw outOfRange('supplementaryGroups', `at most ${maxGroups} groups (NGROUPS_MAX)`, groups.length);
  }
  groups.sort((a, b) => a - b);

  if (!allowRoot) {
    const refuse = (option: string, what: string) =>
      new OptionRangeError('ERR_CAPSPAWN_ROOT_TARGET', option, `spawnGuest refuses ${what} without "allowRoot: true"`);
    if (uid === 0) throw refuse('user', 'to run a guest as uid 0 (root)');
    if (gid === 0) throw refuse('primaryGroup', 'gid 0 (root) as the primary group');
    if (extra.includes(0) && !base.includes(0)) throw refuse(`extraGroups[${extra.indexOf(0)}]`, 'gid 0 (root) as a supplementary group');
    if (groups.includes(0)) {
      const option =
        supplementaryGroups === undefined ? 'supplementaryGroups' : `supplementaryGroups[${supplementaryGroups.map(toGid).indexOf(0)}]`;
      throw refuse(
        option,
        supplementaryGroups === undefined
          ? "gid 0 (root), which is among the user's groups from NSS,"
          : 'gid 0 (root) as a supplementary group',
      );
    }
  }
  return { uid, gid, groups, user: entry };
}
