import type { CgroupLimit } from './cgroup-limits.js';
import { capabilityHex, capabilityMask, capabilityName } from './capabilities.js';
import { UnsupportedPlatformError } from './errors.js';
import type { Identity } from './identity.js';
import type { SpawnGuestOptions } from './options.js';
import { readOwnStatus, RLIM_INFINITY, rlimitName, type RlimitName } from './procfs.js';
import { guestSecurebits } from './launch-plan.js';
import { prepareGuest, requireProgram, splitArguments } from './prepared-guest.js';

/** What a guest would get, decided exactly as spawnGuest decides it, without spawning. */
export interface GuestPlan extends Identity {
  /** The program as given, and the paths execve would try in order. */
  file: string;
  /** The absolute paths execve would try, in order. */
  candidates: string[];
  /** argv of the guest, argv0 first. */
  argv: string[];
  /** Capability names (`CAP_NET_ADMIN`) with their bit numbers. */
  capabilities: {
    /** `CAP_NET_ADMIN` */
    name: string;
    /** 12 */
    bit: number;
  }[];
  /** The guest's environment, in order. */
  env: [string, string][];
  /** The absolute working directory, or undefined to inherit this process's. */
  cwd: string | undefined;
  /** Whether the guest starts a new session. */
  detached: boolean;
  /** The guest's umask, or undefined to inherit. */
  umask: number | undefined;
  /** Whether no_new_privs is set. */
  noNewPrivileges: boolean;
  /** Whether a program with set-id bits or file capabilities of its own runs anyway. */
  allowPrivilegedPrograms: boolean;
  /** Whether the bounding set is limited to the capabilities. */
  limitBoundingSet: boolean;
  /** The parent-death signal number, 0 for none. */
  parentDeathSignal: number;
  /** The securebits the guest runs with (prctl PR_GET_SECUREBITS): this process's, plus SECBIT_NOROOT (locked) for uid 0. */
  securebits: number;
  /** Where the guest will run; fields are absent when the option was not given. */
  placement: {
    /** The cgroup v2 directory the guest starts in (for one of its own: `PARENT/capspawn-<pid>-<n>` until it is made). */
    cgroup?: string;
    /** A cgroup made for the guest: its parent, the limits written, whether it is kept. */
    ownCgroup?: {
      /** The cgroup v2 directory it is made under. */
      parent: string;
      /** The interface files written before the launch. */
      limits: CgroupLimit[];
      /** Whether it stays after the guest's tree has exited. */
      keep: boolean;
    };
    /** Resource limits, by prlimit(1) name. */
    rlimits: {
      /** prlimit(1) name: `nofile`. */
      name: RlimitName;
      /** Soft limit. */
      soft: bigint | 'unlimited';
      /** Hard limit. */
      hard: bigint | 'unlimited';
    }[];
    /** The network namespace: a path or an fd. */
    netns?: string | number;
    /** oom_score_adj */
    oomScoreAdj?: number;
    /** The nice value. */
    nice?: number;
  };
  /** The lines the guest's /proc/<pid>/status should show, by key (`CapAmb` → `0000000000001000`). */
  expectedStatus: Record<string, string>;
}

/** Every resource in checked options has a name: normalizeOptions made it from one. */
function checkedRlimitName(resource: number): RlimitName {
  const name = rlimitName(resource);
  if (name === undefined) throw new RangeError(`resource limit ${resource} has no name`);
  return name;
}

function limitText(value: bigint): bigint | 'unlimited' {
  return value === RLIM_INFINITY ? 'unlimited' : value;
}

/**
 * Decides everything spawnGuest would (checks, NSS lookups, environment, PATH search) and
 * returns it, spawning nothing. Rejects with the same errors spawnGuest would before spawning.
 */
export async function planGuest(file: string, options: SpawnGuestOptions): Promise<GuestPlan>;
export async function planGuest(file: string, args: readonly string[], options: SpawnGuestOptions): Promise<GuestPlan>;
export async function planGuest(
  file: string,
  argsOrOptions: readonly string[] | SpawnGuestOptions,
  maybeOptions?: SpawnGuestOptions,
): Promise<GuestPlan> {
  if (process.platform !== 'linux') throw new UnsupportedPlatformError(process.platform);
  const [args, rawOptions] = splitArguments(argsOrOptions, maybeOptions);
  const prepared = await prepareGuest(file, args, rawOptions);
  requireProgram(prepared);
  const { native, options, identity, environment, candidates, context } = prepared;
  const caps = capabilityHex(capabilityMask(options.caps));
  const cgroup = options.cgroup;
  const ids = (id: number) => `${id}\t${id}\t${id}\t${id}`;
  const own = readOwnStatus();
  return {
    file: options.file,
    candidates,
    argv: [...context.spawnargs],
    uid: identity.uid,
    gid: identity.gid,
    groups: identity.groups,
    user: identity.user,
    capabilities: options.caps.map((bit) => ({ name: capabilityName(bit), bit })),
    env: [...environment],
    cwd: options.cwd,
    detached: options.detached,
    umask: options.umask,
    noNewPrivileges: options.noNewPrivileges,
    allowPrivilegedPrograms: options.allowPrivilegedPrograms,
    limitBoundingSet: options.limitBoundingSet,
    parentDeathSignal: options.parentDeathSignal,
    securebits: guestSecurebits(native.securebits(), identity.uid),
    placement: {
      cgroup: cgroup === undefined ? undefined : 'dir' in cgroup ? cgroup.dir : `${cgroup.parent}/${cgroup.name ?? 'capspawn-<pid>-<n>'}`,
      ownCgroup: cgroup && 'parent' in cgroup ? { parent: cgroup.parent, limits: cgroup.limits, keep: cgroup.keep } : undefined,
      rlimits: options.rlimits.map((r) => ({ name: checkedRlimitName(r.resource), soft: limitText(r.soft), hard: limitText(r.hard) })),
      netns: options.netns,
      oomScoreAdj: options.oomScoreAdj,
      nice: options.nice,
    },
    expectedStatus: {
      Uid: ids(identity.uid),
      Gid: ids(identity.gid),
      Groups: identity.groups.join(' '),
      CapInh: caps,
      CapPrm: caps,
      CapEff: caps,
      CapBnd: options.limitBoundingSet ? caps : own.capabilities.bounding.hex,
      CapAmb: caps,
      NoNewPrivs: options.noNewPrivileges || own.noNewPrivileges ? '1' : '0',
    },
  };
}
