import { readFileSync, statfsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { capabilitiesInMask, capabilityNumber } from './capabilities.js';
import { invalidType, invalidValue, OptionRangeError, outOfRange } from './errors.js';
import { checkOwnCgroup, type OwnCgroupRequest } from './own-cgroup.js';

/** Resource limits by their prlimit(1) names, with the kernel's RLIMIT_* numbers. */
export const RLIMIT_RESOURCES = {
  /** RLIMIT_CPU: CPU time, seconds. */
  cpu: 0,
  /** RLIMIT_FSIZE: largest file written, bytes. */
  fsize: 1,
  /** RLIMIT_DATA: data segment, bytes. */
  data: 2,
  /** RLIMIT_STACK: stack, bytes. */
  stack: 3,
  /** RLIMIT_CORE: core file, bytes. */
  core: 4,
  /** RLIMIT_RSS: resident set (not enforced by Linux), bytes. */
  rss: 5,
  /** RLIMIT_NPROC: processes of the user. */
  nproc: 6,
  /** RLIMIT_NOFILE: open file descriptors. */
  nofile: 7,
  /** RLIMIT_MEMLOCK: locked memory, bytes. */
  memlock: 8,
  /** RLIMIT_AS: address space, bytes. */
  as: 9,
  /** RLIMIT_LOCKS: file locks. */
  locks: 10,
  /** RLIMIT_SIGPENDING: queued signals. */
  sigpending: 11,
  /** RLIMIT_MSGQUEUE: POSIX message queues, bytes. */
  msgqueue: 12,
  /** RLIMIT_NICE: ceiling of the nice value (20 - limit). */
  nice: 13,
  /** RLIMIT_RTPRIO: real-time priority. */
  rtprio: 14,
  /** RLIMIT_RTTIME: real-time CPU time, microseconds. */
  rttime: 15,
} as const;

/** A resource limit name as prlimit(1) spells it: `nofile`, `memlock`, ... */
export type RlimitName = keyof typeof RLIMIT_RESOURCES;

/** The name of the resource limit with the kernel's number `resource`, if it is one of ours. */
export function rlimitName(resource: number): RlimitName | undefined {
  return (Object.keys(RLIMIT_RESOURCES) as RlimitName[]).find((name) => RLIMIT_RESOURCES[name] === resource);
}

/** One limit: a number for soft = hard, `'unlimited'`, or `[soft, hard]`. */
export type RlimitValue = number | 'unlimited' | readonly [number | 'unlimited', number | 'unlimited'];

/** RLIM_INFINITY */
export const RLIM_INFINITY = 2n ** 64n - 1n;

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

/** This process's hard limits, from /proc/self/limits, by RLIMIT number. */
function ownHardLimits(): Map<number, bigint> {
  const text = readFileSync('/proc/self/limits', 'latin1');
  // The rows follow the RLIMIT numbers in order (fs/proc/base.c, lnames[]).
  const rows = text
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '');
  const limits = new Map<number, bigint>();
  rows.forEach((line, resource) => {
    const hard = line.slice(26).trim().split(/\s+/)[1];
    if (hard === undefined) throw new Error(`/proc/self/limits: no hard limit in "${line}"`);
    limits.set(resource, hard === 'unlimited' ? RLIM_INFINITY : BigInt(hard));
  });
  return limits;
}

function holdsCapability(cap: number): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '0';
  return capabilitiesInMask(BigInt(`0x${hex}`)).includes(cap);
}

/**
 * Checks the `rlimits` option: known names, soft ≤ hard, and no hard limit above this
 * process's own unless it holds CAP_SYS_RESOURCE (the kernel would refuse it in the child).
 */
export function checkRlimits(rlimits: unknown): ResolvedRlimit[] {
  if (rlimits === undefined) return [];
  if (rlimits === null || typeof rlimits !== 'object' || Array.isArray(rlimits)) {
    throw invalidType('rlimits', 'an object such as { nofile: [1024, 4096] }', rlimits);
  }
  let hardLimits: Map<number, bigint> | undefined;
  let mayRaise: boolean | undefined;
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
    hardLimits ??= ownHardLimits();
    const own = hardLimits.get(resource) ?? RLIM_INFINITY;
    if (hard > own && !(mayRaise ??= holdsCapability(CAP_SYS_RESOURCE))) {
      throw new OptionRangeError(
        'ERR_CAPSPAWN_RLIMIT_ABOVE_HARD',
        option,
        `The "${option}" hard limit ${hard === RLIM_INFINITY ? 'unlimited' : hard} is above this process's own (${own === RLIM_INFINITY ? 'unlimited' : own}), and raising it needs CAP_SYS_RESOURCE`,
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

/** A mount from /proc/self/mountinfo: where, its per-mount options (`nosuid`, ...), its type. */
export interface Mount {
  point: string;
  options: string[];
  type: string;
}

/** The innermost mount (of `type`, if given) that holds the absolute path `path`, from /proc/self/mountinfo. */
export function mountOf(path: string, type?: string): Mount | undefined {
  let best: Mount | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || (type !== undefined && fields[dash + 1] !== type)) continue;
    // Spaces, tabs, newlines and backslashes in a mount point are octal escapes (\040).
    const point = (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    const holds = path === point || path.startsWith(point === '/' ? '/' : `${point}/`);
    if (holds && (best === undefined || point.length >= best.point.length)) {
      best = { point, options: (fields[5] ?? '').split(','), type: fields[dash + 1] ?? '' };
    }
  }
  return best;
}

/** An existing cgroup v2 directory, given as `option`, and its path as /proc/<pid>/cgroup shows it. */
export function checkCgroupDir(cgroup: unknown, option: string): { dir: string; path: string } {
  if (typeof cgroup !== 'string') throw invalidType(option, 'the absolute path of a cgroup v2 directory', cgroup);
  if (!isAbsolute(cgroup) || cgroup.includes('\0')) throw invalidValue(option, 'must be an absolute path', cgroup);
  let isCgroup2 = false;
  try {
    isCgroup2 = statSync(cgroup).isDirectory() && statfsSync(cgroup).type === CGROUP2_SUPER_MAGIC;
  } catch {
    isCgroup2 = false;
  }
  const mount = isCgroup2 ? mountOf(cgroup, 'cgroup2')?.point : undefined;
  if (mount === undefined) {
    throw new OptionRangeError(
      'ERR_CAPSPAWN_NOT_CGROUP2',
      option,
      `The "${option}" option must name an existing cgroup v2 directory; ${cgroup} is not one`,
    );
  }
  return { dir: cgroup, path: `/${relative(mount, cgroup)}` };
}

/**
 * Checks the `cgroup` option: an absolute path to a directory of a cgroup v2 hierarchy to
 * join, or `{ parent, name?, limits?, keep? }` for a cgroup of the guest's own.
 */
export function checkCgroup(cgroup: unknown): CgroupPlacement | OwnCgroupRequest | undefined {
  if (cgroup === undefined) return undefined;
  if (cgroup !== null && typeof cgroup === 'object' && !Array.isArray(cgroup)) {
    return checkOwnCgroup(cgroup, (parent) => checkCgroupDir(parent, 'cgroup.parent'));
  }
  const { dir, path } = checkCgroupDir(cgroup, 'cgroup');
  return { dir, procs: join(dir, 'cgroup.procs'), line: `0::${path}\n` };
}

const NSFS_MAGIC = 0x6e736673;

/**
 * Checks the `netns` option: a path such as /run/netns/NAME or /proc/PID/ns/net, or an open
 * fd. A path must be a namespace file; that it is a *network* namespace is checked by the
 * launch before the clone (ioctl NS_GET_NSTYPE), as a failure of step `setns`.
 */
export function checkNetns(netns: unknown): string | number | undefined {
  if (netns === undefined) return undefined;
  if (typeof netns === 'number') {
    if (!Number.isInteger(netns) || netns < 0 || netns > 2 ** 31 - 1) throw outOfRange('netns', 'an open file descriptor', netns);
    return netns;
  }
  if (typeof netns !== 'string') throw invalidType('netns', 'a path such as /run/netns/NAME or a file descriptor', netns);
  if (!isAbsolute(netns) || netns.includes('\0')) throw invalidValue('netns', 'must be an absolute path', netns);
  let isNamespace = false;
  try {
    isNamespace = statfsSync(netns).type === NSFS_MAGIC;
  } catch {
    isNamespace = false;
  }
  if (!isNamespace) throw invalidValue('netns', 'must name a network namespace (such as /run/netns/NAME)', netns);
  return netns;
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
