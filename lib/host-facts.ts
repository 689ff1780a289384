import { capLastCap } from './capabilities.js';
import { ngroupsMax } from './identity.js';
import { preparationFailure } from './launch-error.js';
import { argumentSpaceLimit } from './launch-plan.js';
import { readOwnLimits, readOwnMounts, readOwnStatus, type Mount } from './procfs.js';

/** What the option checks compare options against: this kernel's and this process's limits. */
export interface HostFacts {
  /** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
  capLastCap: number;
  /** The most supplementary groups a process may have (/proc/sys/kernel/ngroups_max). */
  ngroupsMax: number;
  /** Bytes of strings and pointers execve accepts (a quarter of the stack limit, within bounds). */
  argumentSpace: number;
  /**
   * This process's hard resource limits by RLIMIT number and its effective capabilities, which
   * `rlimits` is checked against; read only when `rlimits` is given.
   */
  own?: {
    hardLimits: readonly bigint[];
    /** CapEff. */
    effective: bigint;
  };
  /** The cgroup2 mounts of this process's mount namespace, which `cgroup` is placed in; read only when `cgroup` is given. */
  cgroup2Mounts?: readonly Mount[];
}

/** Which of the facts read on every call the options need. */
export interface HostFactsNeeded {
  ownLimits: boolean;
  cgroup2Mounts: boolean;
}

/** The facts `options` (not yet checked) need: the own limits for `rlimits`, the mounts for `cgroup`. */
export function hostFactsNeeded(options: unknown): HostFactsNeeded {
  const o = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : {};
  return { ownLimits: o.rlimits !== undefined, cgroup2Mounts: o.cgroup !== undefined };
}

/**
 * Reads the host facts: the kernel's limits once (they cannot change while it runs); this
 * process's own limits and capabilities (which prlimit(1) or a dropped capability may change)
 * and its mounts on every call, when needed. A system error here
 * (EMFILE when the daemon has no descriptor free, ...) becomes the SpawnGuestError at step
 * `resolve` that every later parent step would give.
 */
export function readHostFacts(needs: HostFactsNeeded, spawnargs: readonly string[]): HostFacts {
  try {
    const facts: HostFacts = { capLastCap: capLastCap(), ngroupsMax: ngroupsMax(), argumentSpace: argumentSpaceLimit() };
    if (needs.ownLimits) {
      facts.own = { hardLimits: readOwnLimits().map((row) => row.hard), effective: readOwnStatus().capabilities.effective.mask };
    }
    if (needs.cgroup2Mounts) facts.cgroup2Mounts = readOwnMounts().filter((mount) => mount.type === 'cgroup2');
    return facts;
  } catch (error) {
    throw preparationFailure(error, spawnargs);
  }
}
