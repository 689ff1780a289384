import { statfsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { capabilitiesInMask, capabilityNumber } from './capabilities.js';
import { invalidType, invalidValue, OptionRangeError, outOfRange } from './errors.js';
import { checkOwnCgroup, type OwnCgroupRequest, type OwnCgroupSpecChecked } from './own-cgroup.js';
import type { HostFacts } from './host-facts.js';
import { innermostMount, readOwnMounts, RLIM_INFINITY, RLIMIT_RESOURCES, type Mount } from './procfs.js';

export { RLIM_INFINITY, RLIMIT_RESOURCES, rlimitName, type Mount, type RlimitName } from './procfs.js';

/** One limit: a number for soft = hard, `'unlimited'`, or `[soft, hard]`. */
export type RlimitValue = number | 'unlimited' | readonly [number | 'unlimited', number | 'unlimited'];

/** A limit as the kernel takes it. */
export interface ResolvedRlimit {
  resource: number;
  soft: bigint;
  hard: bigint;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CAP_SYS_RESOURCE = capabilityNumber('sys_resource');

function limitValue(value: unknown, option: string): bigint {
  if (value === 'unlimited') return RLIM_INFINITY;
  if (typeof value !== 'number') throw invalidType(option, "a non-negative integer or 'unlimited'", value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(option, "a non-negative integer or 'unlimited'", value);
  return BigInt(value);
}

/**
 * Checks the `rlimits` option: known names, soft ≤ hard, and no hard limit above this
 * process's own (`own`, from the host facts) unless it holds CAP_SYS_RESOURCE (the kernel
 * would refuse it in the child).
 */
export function checkRlimits(rlimits: unknown, own: HostFacts['own']): ResolvedRlimit[] {
  if (rlimits === undefined) return [];
  if (rlimits === null || typeof rlimits !== 'object' || Array.isArray(rlimits)) {
    throw invalidType('rlimits', 'an object such as { nofile: [1024, 4096] }', rlimits);
  }
  return Object.entries(rlimits).map(([name, value]) => {
    const option = `rlimits.${name}`;
    const resource = Object.hasOwn(RLIMIT_RESOURCES, name) ? (RLIMIT_RESOURCES as Record<string, number>)[name] : undefined;
    if (resource === undefined) {
      throw invalidValue(option, `names no resource limit; names are ${Object.keys(RLIMIT_RESOURCES).join(', ')}`, name);
    }
    let soft: bigint;
    let hard: bigint;
    if (Array.isArray(value)) {
      if (value.length !== 2) throw invalidValue(option, 'must be [soft, hard]', value);
      soft = limitValue(value[0], `${option}[0]`);
      hard = limitValue(value[1], `${option}[1]`);
    } else {
      soft = hard = limitValue(value, option);
    }
    if (soft > hard) throw outOfRange(option, 'a soft limit no larger than the hard limit', value);
    if (own === undefined) throw new Error("checkRlimits: the host facts lack this process's own limits");
    const ownHard = own.hardLimits[resource] ?? RLIM_INFINITY;
    if (hard > ownHard && !capabilitiesInMask(own.effective).includes(CAP_SYS_RESOURCE)) {
      throw new OptionRangeError(
        'ERR_CAPSPAWN_RLIMIT_ABOVE_HARD',
        option,
        `The "${option}" hard limit ${hard === RLIM_INFINITY ? 'unlimited' : hard} is above this process's own (${ownHard === RLIM_INFINITY ? 'unlimited' : ownHard}), and raising it needs CAP_SYS_RESOURCE`,
      );
    }
    return { resource, soft, hard };
  });
}

/** Where the guest's cgroup is, for the child: its cgroup.procs and its /proc/<pid>/cgroup line. */
export interface CgroupPlacement {
  /** The cgroup directory. */
  dir: string;
  procs: string;
  line: string;
}

/** The innermost mount (of `type`, if given) that holds the absolute path `path`, from /proc/self/mountinfo. */
export function mountOf(path: string, type?: string): Mount | undefined {
  return innermostMount(readOwnMounts(), path, type);
}

/** `option` names a cgroup directory: an absolute path. Pure; {@link checkCgroupDir} looks at it. */
function checkCgroupPath(cgroup: unknown, option: string): string {
  if (typeof cgroup !== 'string') throw invalidType(option, 'the absolute path of a cgroup v2 directory', cgroup);
  if (!isAbsolute(cgroup) || cgroup.includes('\0')) throw invalidValue(option, 'must be an absolute path', cgroup);
  return cgroup;
}

/**
 * An existing cgroup v2 directory, given as `option`, and its path as /proc/<pid>/cgroup shows
 * it, relative to the cgroup2 mount among `mounts` that holds it.
 */
export function checkCgroupDir(cgroup: unknown, option: string, mounts: readonly Mount[]): { dir: string; path: string } {
  const dir = checkCgroupPath(cgroup, option);
  let isCgroup2 = false;
  try {
    isCgroup2 = statSync(dir).isDirectory() && statfsSync(dir).type === CGROUP2_SUPER_MAGIC;
  } catch {
    isCgroup2 = false;
  }
  const mount = isCgroup2 ? innermostMount(mounts, dir, 'cgroup2')?.point : undefined;
  if (mount === undefined) {
    throw new OptionRangeError(
      'ERR_CAPSPAWN_NOT_CGROUP2',
      option,
      `The "${option}" option must name an existing cgroup v2 directory; ${dir} is not one`,
    );
  }
  return { dir, path: `/${relative(mount, dir)}` };
}

/** `cgroup` after the pure checks: a directory to join, or a cgroup of the guest's own; no path looked at yet. */
export type CgroupRequest = { join: string } | OwnCgroupSpecChecked;

/**
 * Checks the `cgroup` option: an absolute path to a directory of a cgroup v2 hierarchy to
 * join, or `{ parent, name?, limits?, keep? }` for a cgroup of the guest's own. Pure: that
 * the directory is one is {@link placeCgroup}'s to check.
 */
export function checkCgroup(cgroup: unknown): CgroupRequest | undefined {
  if (cgroup === undefined) return undefined;
  if (cgroup !== null && typeof cgroup === 'object' && !Array.isArray(cgroup)) {
    return checkOwnCgroup(cgroup, (parent) => checkCgroupPath(parent, 'cgroup.parent'));
  }
  return { join: checkCgroupPath(cgroup, 'cgroup') };
}

/** Where a checked `cgroup` is: the directory is an existing cgroup v2 one, and its /proc/<pid>/cgroup path. */
export function placeCgroup(request: CgroupRequest, mounts: readonly Mount[]): CgroupPlacement | OwnCgroupRequest {
  if ('parent' in request) {
    return { ...request, parentPath: checkCgroupDir(request.parent, 'cgroup.parent', mounts).path };
  }
  const { dir, path } = checkCgroupDir(request.join, 'cgroup', mounts);
  return { dir, procs: join(dir, 'cgroup.procs'), line: `0::${path}\n` };
}

const NSFS_MAGIC = 0x6e736673;

/**
 * Checks the `netns` option: a path such as /run/netns/NAME or /proc/PID/ns/net, or an open
 * fd. Pure: that a path is a namespace file is {@link checkNetnsPath}'s to check.
 */
export function checkNetns(netns: unknown): string | number | undefined {
  if (netns === undefined) return undefined;
  if (typeof netns === 'number') {
    if (!Number.isInteger(netns) || netns < 0 || netns > 2 ** 31 - 1) throw outOfRange('netns', 'an open file descriptor', netns);
    return netns;
  }
  if (typeof netns !== 'string') throw invalidType('netns', 'a path such as /run/netns/NAME or a file descriptor', netns);
  if (!isAbsolute(netns) || netns.includes('\0')) throw invalidValue('netns', 'must be an absolute path', netns);
  return netns;
}

/**
 * A `netns` path must be a namespace file; that it is a *network* namespace is checked by the
 * launch before the clone (ioctl NS_GET_NSTYPE), as a failure of step `setns`.
 */
export function checkNetnsPath(netns: string | number | undefined): void {
  if (typeof netns !== 'string') return;
  let isNamespace = false;
  try {
    isNamespace = statfsSync(netns).type === NSFS_MAGIC;
  } catch {
    isNamespace = false;
  }
  if (!isNamespace) throw invalidValue('netns', 'must name a network namespace (such as /run/netns/NAME)', netns);
}

function checkIntegerIn(value: unknown, option: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidType(option, `an integer from ${min} to ${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(option, `an integer from ${min} to ${max}`, value);
  return value;
}

export function checkOomScoreAdj(value: unknown): number | undefined {
  return checkIntegerIn(value, 'oomScoreAdj', -1000, 1000);
}

export function checkNice(value: unknown): number | undefined {
  return checkIntegerIn(value, 'nice', -20, 19);
}
